// The engine's IPv6 receive path: the checks of Linux's ip6_rcv_core and ip6_input, then the
// upper layer.
#include <variant>

#include "stack/engine.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

namespace tapstack {

using header::Ipv6Drop;

namespace {

// A neighbour advertisement whose target is its own source.
bool advertises_itself(const header::Ipv6UpperLayer& upper, const Ipv6Address& source) {
  constexpr size_t kTargetOffset = 8;  // type, code, checksum, flags (RFC 4861 §4.4)
  return upper.protocol == header::kProtocolIcmpv6 && upper.payload.size() >= kTargetOffset + 16 &&
         upper.payload[0] == header::icmpv6_type::kNeighbourAdvertisement &&
         Ipv6Address::from(upper.payload.data() + kTargetOffset) == source;
}

}  // namespace

void Engine::receive_ipv6(std::span<const uint8_t> packet, const MacAddress& sender,
                          RxChecksum checksum) {
  auto ip = header::Ipv6View::parse(packet);
  if (!ip) {
    stats_.drop(DropReason::bad_ipv6_header);
    return;
  }
  // Sources no host sends from (RFC 4291 §2.5.2-2.5.5, §2.7: multicast, loopback, IPv4-mapped):
  // whatever sends them is spoofing, and an answer would go astray.
  const Ipv6Address source = ip->source();
  const Ipv6Address destination = ip->destination();
  if (source.is_multicast() || source.is_loopback() || source.is_v4_mapped()) {
    stats_.drop(DropReason::ipv6_invalid_source);
    return;
  }
  const bool to_our_address = ndp_.is_assigned(destination);
  if (!to_our_address && !ndp_.in_our_groups(destination)) {
    stats_.drop(DropReason::ipv6_not_our_address);
    return;
  }
  const header::Ipv6Walk walk = ip->find_upper_layer();
  if (const auto* rejection = std::get_if<header::Ipv6Rejection>(&walk)) {
    if (ndp_.is_assigned(source)) {
      stats_.drop(DropReason::ipv6_invalid_source);  // no answer to ourselves
      return;
    }
    reject_ipv6(*ip, *rejection);
    return;
  }
  const auto& upper = std::get<header::Ipv6UpperLayer>(walk);
  // Our own addresses as source are spoofed too, but for one message: a host defending an
  // address against our DAD advertises it from the address itself (RFC 4862 §5.4.4, Linux's
  // ndisc_send_na), and that advertisement is what makes ours duplicate.
  if (ndp_.is_assigned(source) && !advertises_itself(upper, source)) {
    stats_.drop(DropReason::ipv6_invalid_source);
    return;
  }
  const bool neighbour_discovery =
      upper.protocol == header::kProtocolIcmpv6 && !upper.payload.empty() &&
      (upper.payload[0] == header::icmpv6_type::kNeighbourSolicitation ||
       upper.payload[0] == header::icmpv6_type::kNeighbourAdvertisement);
  // The unspecified source is a DAD probe's alone (RFC 4862 §5.4.2), and an address of ours in
  // DAD, or found duplicate, takes nothing but Neighbour Discovery (§5.4).
  if (source.is_unspecified() && !neighbour_discovery) {
    stats_.drop(DropReason::ipv6_invalid_source);
    return;
  }
  if (to_our_address && !neighbour_discovery && !ndp_.is_usable(destination, now_)) {
    stats_.drop(DropReason::ipv6_tentative);
    return;
  }
  switch (upper.protocol) {
    case header::kProtocolTcp:
      if (destination.is_multicast()) {
        stats_.drop(DropReason::ipv6_multicast_tcp);
        return;
      }
      stats_.packets_received.add();
      tcp_.receive({source, destination, upper.payload}, checksum);
      return;
    case header::kProtocolIcmpv6:
      stats_.packets_received.add();
      icmpv6_.receive(*ip, upper.payload, sender, checksum, now_);
      return;
    default:
      // RFC 8200 §4: an unrecognized Next Header is answered with a Parameter Problem, code 1.
      stats_.drop(DropReason::ipv6_unsupported_protocol);
      icmpv6_.parameter_problem(*ip, net::parameter_problem::kUnrecognizedNextHeader,
                                upper.next_header_offset, false, now_);
      return;
  }
}

void Engine::reject_ipv6(const header::Ipv6View& ip, const header::Ipv6Rejection& rejection) {
  using namespace net::parameter_problem;
  switch (rejection.reason) {
    case Ipv6Drop::kHopByHopNotFirst:
      // Linux's ip6_input takes a Hop-by-Hop header anywhere but first as an unknown protocol.
      stats_.drop(DropReason::ipv6_hop_by_hop_not_first);
      icmpv6_.parameter_problem(ip, kUnrecognizedNextHeader, rejection.pointer, false, now_);
      return;
    case Ipv6Drop::kUnrecognizedOption: {
      // RFC 8200 §4.2: the option type's top two bits say what to do with an unknown option:
      // 01 discard quietly; 10 discard and answer, even to a multicast destination; 11 discard
      // and answer unless the destination was multicast.
      stats_.drop(DropReason::ipv6_unrecognized_option);
      const uint8_t action = ip.bytes()[rejection.pointer] >> 6;
      if (action >= 2) {
        icmpv6_.parameter_problem(ip, kUnrecognizedOption, rejection.pointer, action == 2, now_);
      }
      return;
    }
    case Ipv6Drop::kRoutingSegmentsLeft:
      // RFC 8200 §4.4: an unknown routing type with segments left, answered at its type.
      stats_.drop(DropReason::ipv6_routing_header);
      icmpv6_.parameter_problem(ip, kErroneousHeaderField, rejection.pointer, false, now_);
      return;
    case Ipv6Drop::kMalformed:
      stats_.drop(DropReason::ipv6_bad_extension);
      return;
    case Ipv6Drop::kFragment:
      stats_.drop(DropReason::ipv6_fragment);
      return;
    case Ipv6Drop::kNoNextHeader:
      stats_.drop(DropReason::ipv6_no_next_header);
      return;
    case Ipv6Drop::kChainTooLong:
      stats_.drop(DropReason::ipv6_chain_too_long);
      return;
  }
}

}  // namespace tapstack
