#include "stack/capture/capture_filter.h"

#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

namespace tapstack::capture {
namespace {

struct TcpSegment {
  IpAddress source;
  IpAddress destination;
  header::TcpView tcp;
};

// The TCP segment in an Ethernet frame, if it carries one: IPv4 (not a fragment), or IPv6 past
// its extension headers.
std::optional<TcpSegment> tcp_segment(std::span<const uint8_t> frame) {
  auto eth = header::EthernetView::parse(frame);
  if (!eth) return std::nullopt;
  if (eth->ether_type() == header::kEtherTypeIpv4) {
    auto ip = header::Ipv4View::parse(eth->payload());
    if (!ip || ip->is_fragment() || ip->protocol() != header::kProtocolTcp) return std::nullopt;
    auto tcp = header::TcpView::parse(ip->payload());
    if (!tcp) return std::nullopt;
    return TcpSegment{ip->source(), ip->destination(), *tcp};
  }
  if (eth->ether_type() == header::kEtherTypeIpv6) {
    auto ip = header::Ipv6View::parse(eth->payload());
    if (!ip) return std::nullopt;
    auto walk = ip->find_upper_layer();
    auto* upper = std::get_if<header::Ipv6UpperLayer>(&walk);
    if (!upper || upper->protocol != header::kProtocolTcp) return std::nullopt;
    auto tcp = header::TcpView::parse(upper->payload);
    if (!tcp) return std::nullopt;
    return TcpSegment{ip->source(), ip->destination(), *tcp};
  }
  return std::nullopt;
}

}  // namespace

bool CaptureFilter::match_tuple(const tcp::FourTuple& tuple) const {
  return (!spec_.local_port || tuple.local_port == *spec_.local_port) &&
         (!spec_.local_address || tuple.local == *spec_.local_address) &&
         (!spec_.family || tuple.family() == *spec_.family) &&
         (!spec_.peer || spec_.peer->contains(tuple.remote)) &&
         (!spec_.peer_port || tuple.remote_port == *spec_.peer_port);
}

bool CaptureFilter::is_handshake(Direction direction, const tcp::FourTuple& tuple, uint8_t flags,
                                 uint32_t seq, uint32_t ack) {
  using namespace header::tcp_flags;
  PendingHandshake& slot = pending_[hash_(tuple) % kHandshakeSlots];
  if (flags & kRst) return true;
  if (flags & kSyn) {
    if (flags & kAck) slot = {tuple, seq + 1, direction, true};
    return true;
  }
  // The ACK of a SYN-ACK, from the other side, completes the handshake; SYN-ACK
  // retransmissions re-arm the slot with the same number.
  if ((flags & kAck) && slot.used && slot.tuple == tuple && slot.syn_ack_direction != direction &&
      ack == slot.ack) {
    slot.used = false;
    return true;
  }
  return false;
}

bool CaptureFilter::match(Direction direction, std::span<const uint8_t> frame) {
  if (!spec_.tcp_only()) return true;
  auto segment = tcp_segment(frame);
  if (!segment) return false;
  const bool received = direction == Direction::kReceived;
  const tcp::FourTuple tuple{
      received ? segment->destination : segment->source,
      received ? segment->source : segment->destination,
      received ? segment->tcp.destination_port() : segment->tcp.source_port(),
      received ? segment->tcp.source_port() : segment->tcp.destination_port()};
  if (!match_tuple(tuple)) return false;
  if (!spec_.handshake_only) return true;
  return is_handshake(direction, tuple, segment->tcp.flags(), segment->tcp.seq(),
                      segment->tcp.ack());
}

}  // namespace tapstack::capture
