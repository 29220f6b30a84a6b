#include "stack/net/icmpv6.h"

#include <algorithm>
#include <array>
#include <optional>
#include <variant>

#include "stack/header/bytes.h"
#include "stack/header/tcp.h"

namespace tapstack::net {

using namespace header::icmpv6_type;
using header::Icmpv6View;
using header::Ipv6View;

namespace {

// Our own messages' hop limit (Linux's default hop_limit).
constexpr uint8_t kHopLimit = 64;
// An error quotes as much of the invoking packet as fits in the minimum MTU (RFC 4443 §2.4 c).
constexpr size_t kMinimumMtu = 1280;
constexpr size_t kMaxQuote = kMinimumMtu - Ipv6View::kHeaderSize - Icmpv6View::kHeaderSize;

// The TCP segment an error quotes (RFC 4443 §3: the invoking packet, cut short), if it is one.
std::optional<header::QuotedTcp> parse_quoted_tcp(std::span<const uint8_t> quoted) {
  auto ip = Ipv6View::parse_quoted(quoted);
  if (!ip) return std::nullopt;
  const header::Ipv6Walk walk = ip->find_upper_layer();
  const auto* upper = std::get_if<header::Ipv6UpperLayer>(&walk);
  if (!upper || upper->protocol != header::kProtocolTcp || upper->payload.size() < 8) {
    return std::nullopt;
  }
  const uint8_t* tcp = upper->payload.data();
  return header::QuotedTcp{ip->source(), ip->destination(), header::load16(tcp),
                           header::load16(tcp + 2), header::load32(tcp + 4)};
}

}  // namespace

std::string_view icmpv6_error_reason(uint8_t type, uint8_t code) {
  // Linux's tab_unreach: which codes end a connection attempt as hard errors there (1, 4-6)
  // and which are soft (0, 2, 3); our TCP ends an attempt on both, as for IPv4 (tcp_icmp.cc).
  static constexpr std::array<std::string_view, 7> kUnreachable = {
      "no route to destination (ICMPv6)",
      "communication administratively prohibited (ICMPv6)",
      "beyond scope of source address (ICMPv6)",
      "address unreachable (ICMPv6)",
      "port unreachable (ICMPv6)",
      "source address failed policy (ICMPv6)",
      "reject route to destination (ICMPv6)",
  };
  switch (type) {
    case kDestinationUnreachable:
      return code < kUnreachable.size() ? kUnreachable[code] : kUnreachable[0];
    case kTimeExceeded:
      return "time exceeded in transit (ICMPv6)";
    case kParameterProblem:
      return "parameter problem (ICMPv6)";
    default:
      return {};
  }
}

Icmpv6::Icmpv6(Stats& stats, IpOutput& output, tcp::Tcp& tcp, IcmpRateLimit& rate_limit, Ndp& ndp)
    : stats_(stats), output_(output), tcp_(tcp), rate_limit_(rate_limit), ndp_(ndp) {}

void Icmpv6::receive(const Ipv6View& ip, std::span<const uint8_t> message, const MacAddress& sender,
                     RxChecksum checksum, Time now) {
  auto icmp = Icmpv6View::parse(message);
  if (!icmp ||
      (checksum == RxChecksum::kUnverified && !icmp->checksum_ok(ip.source(), ip.destination()))) {
    stats_.drop(DropReason::bad_icmpv6);
    return;
  }
  stats_.icmpv6_received.add();
  switch (icmp->type()) {
    case kNeighbourSolicitation:
    case kNeighbourAdvertisement:
      ndp_.receive(ip, *icmp, sender, now);
      return;
    case kEchoRequest:
      if (icmp->code() != 0) {
        stats_.drop(DropReason::icmpv6_ignored);
        return;
      }
      echo_reply(ip, *icmp, now);
      return;
    case kDestinationUnreachable:
    case kPacketTooBig:
    case kTimeExceeded:
    case kParameterProblem:
      error(*icmp);
      return;
    default:
      stats_.drop(DropReason::icmpv6_ignored);
      return;
  }
}

void Icmpv6::send(const Ipv6Address& source, const Ipv6Address& destination, size_t message_size) {
  header::write_ipv6(buffer_.data() + kLinkHeadroom, source, destination, header::kProtocolIcmpv6,
                     static_cast<uint16_t>(message_size), kHopLimit, 0);
  stats_.icmpv6_sent.add();
  output_.send_ip(destination, buffer_, {});
}

void Icmpv6::echo_reply(const Ipv6View& ip, const Icmpv6View& request, Time now) {
  // Limited like ICMP's echo replies, by the same bucket: a ping flood of both families costs a
  // bounded number of replies.
  if (!rate_limit_.allow(now)) {
    stats_.drop(DropReason::icmp_rate_limited);
    return;
  }
  // From the address asked, or for a request to a group, from one of ours that the asker can
  // answer (RFC 4443 §4.2).
  auto source = ndp_.is_usable(ip.destination(), now) ? std::make_optional(ip.destination())
                                                      : ndp_.source_for(ip.source(), now);
  if (!source) {
    stats_.drop(DropReason::no_route);
    return;
  }
  constexpr size_t kMessage = kLinkHeadroom + Ipv6View::kHeaderSize;
  buffer_.resize(kMessage + request.bytes().size());
  size_t size =
      header::write_icmpv6_echo_reply(buffer_.data() + kMessage, *source, ip.source(), request);
  send(*source, ip.source(), size);
}

void Icmpv6::parameter_problem(const Ipv6View& ip, uint8_t code, size_t pointer,
                               bool even_to_multicast, Time now) {
  const Ipv6Address& asker = ip.source();
  if (asker.is_unspecified() || asker.is_multicast()) return;
  if (ip.destination().is_multicast() && !even_to_multicast) return;
  // From the address the packet was for; from one of ours the asker can answer when it was for a
  // group; never from an address of ours not yet usable.
  auto source = ndp_.is_usable(ip.destination(), now) ? std::make_optional(ip.destination())
                                                      : ndp_.source_for(asker, now);
  if (!source || (ndp_.is_assigned(ip.destination()) && *source != ip.destination())) return;
  if (!rate_limit_.allow(now)) {
    stats_.drop(DropReason::icmp_rate_limited);
    return;
  }
  constexpr size_t kMessage = kLinkHeadroom + Ipv6View::kHeaderSize;
  const auto invoking = ip.bytes().first(std::min(ip.bytes().size(), kMaxQuote));
  const size_t quoted = invoking.size();
  buffer_.resize(kMessage + Icmpv6View::kHeaderSize + quoted);
  uint8_t* body = buffer_.data() + kMessage + Icmpv6View::kHeaderSize;
  std::copy(invoking.begin(), invoking.end(), body);
  header::write_icmpv6(buffer_.data() + kMessage, *source, asker, kParameterProblem, code,
                       static_cast<uint32_t>(pointer), {body, quoted});
  send(*source, asker, Icmpv6View::kHeaderSize + quoted);
}

void Icmpv6::error(const Icmpv6View& icmp) {
  auto segment = parse_quoted_tcp(icmp.body());
  bool matched = false;
  if (segment && ndp_.is_assigned(segment->source.v6)) {
    const tcp::FourTuple tuple = tcp::FourTuple::sent(*segment);
    // Packet Too Big lowers the path's MSS (RFC 8201); the others end a connection attempt.
    matched =
        icmp.type() == kPacketTooBig
            ? tcp_.packet_too_big(tuple, segment->seq, icmp.mtu())
            : tcp_.icmp_error(tuple, segment->seq, icmpv6_error_reason(icmp.type(), icmp.code()));
  }
  if (!matched) stats_.drop(DropReason::icmpv6_unmatched);
}

void Icmpv6::next_hop_failed(std::span<const uint8_t> ip_packet) {
  // Packets of no connection (a listener's SYN-ACKs, resets, echo replies) just go: their
  // records time out on their own.
  if (auto segment = parse_quoted_tcp(ip_packet)) {
    tcp_.icmp_error(tcp::FourTuple::sent(*segment), segment->seq, kNoNeighbourAdvertisement);
  }
}

}  // namespace tapstack::net
