#include "stack/engine.h"

#include "stack/header/arp.h"
#include "stack/header/ethernet.h"
#include "stack/header/icmp.h"
#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

namespace tapstack {

Engine::Engine(const EngineConfig& config, FrameSink& sink, tcp::KeySource keys, Time now)
    : config_(config),
      sink_(sink),
      keys_(keys),
      random_(keys_.next_u64()),
      now_(now),
      timers_(now),
      arp_(config_, stats_, timers_, static_cast<FrameSink&>(*this), now),
      ndp_(config_, stats_, timers_, static_cast<FrameSink&>(*this), now),
      tcp_(config_, stats_, timers_, *this, random_, keys_),
      icmp_rate_limit_(config_, now),
      icmp_(config_, stats_, *this, tcp_, icmp_rate_limit_),
      icmpv6_(stats_, *this, tcp_, icmp_rate_limit_, ndp_) {
  tcp_.set_now(now);
  arp_.set_unreachable_handler(
      [this](std::span<const uint8_t> packet) { icmp_.next_hop_failed(packet); });
  ndp_.set_unreachable_handler(
      [this](std::span<const uint8_t> packet) { icmpv6_.next_hop_failed(packet); });
}

Engine::~Engine() = default;

void Engine::set_now(Time now) {
  now_ = now;
  tcp_.set_now(now);
}

void Engine::rotate_cookie_secret() {
  tcp_.cookies().rotate({keys_.next_key(), keys_.next_key()}, now_);
  tcp_.publish_cookie_secrets();
}

void Engine::advance(Time now) {
  set_now(now);
  ndp_.start(now_);
  timers_.advance(now, [this](TimerNode& node) {
    if (node.kind == net::Arp::kTimerKind) {
      arp_.on_timer(node, now_);
    } else if (node.kind == net::Ndp::kTimerKind || node.kind == net::Ndp::kDadTimerKind) {
      ndp_.on_timer(node, now_);
    } else {
      tcp_.on_timer(node);
    }
  });
}

void Engine::receive_frame(std::span<const uint8_t> frame, Time now, RxChecksum checksum) {
  set_now(now);
  stats_.frames_received.add();
  if (captures_.any()) [[unlikely]] {
    captures_.copy(capture::Direction::kReceived, frame);
  }
  auto eth = header::EthernetView::parse(frame);
  if (!eth) {
    stats_.drop(DropReason::frame_too_short);
    return;
  }
  MacAddress dst = eth->destination();
  // Ours, broadcast, or a group we are in: all-nodes and our solicited-node groups (RFC 4861
  // §7.2.1), as Linux's multicast filter takes them.
  if (dst != config_.mac && !dst.is_broadcast() && !ndp_.accepts(dst)) {
    stats_.drop(DropReason::not_our_mac);
    return;
  }
  switch (eth->ether_type()) {
    case header::kEtherTypeArp:
      if (auto arp = header::ArpView::parse(eth->payload())) {
        if (arp_.receive(*arp, now_) && arp_observer_) arp_observer_(frame);
      } else {
        stats_.drop(DropReason::bad_arp);
      }
      return;
    case header::kEtherTypeIpv4:
      receive_ipv4(eth->payload(), checksum);
      return;
    case header::kEtherTypeIpv6:
      receive_ipv6(eth->payload(), eth->source(), checksum);
      return;
    default:
      stats_.drop(DropReason::unsupported_ethertype);
      return;
  }
}

void Engine::receive_arp_copy(std::span<const uint8_t> frame, Time now) {
  set_now(now);
  auto eth = header::EthernetView::parse(frame);
  if (!eth) return;
  if (auto arp = header::ArpView::parse(eth->payload())) arp_.learn_from_copy(*arp, now_);
}

void Engine::receive_ipv4(std::span<const uint8_t> packet, RxChecksum checksum) {
  auto ip = header::Ipv4View::parse(packet);
  if (!ip) {
    stats_.drop(DropReason::bad_ipv4_header);
    return;
  }
  if (!ip->checksum_ok()) {
    stats_.drop(DropReason::bad_ipv4_checksum);
    return;
  }
  if (ip->destination() != config_.address.address) {
    stats_.drop(DropReason::not_our_address);
    return;
  }
  // Martian sources, as Linux's ip_route_input_slow and fib_validate_source drop them: no
  // host sends from these, so whatever does is spoofed, and an answer would go astray.
  Ipv4Address src = ip->source();
  if (!config_.address.could_be_peer(src)) {
    stats_.drop(DropReason::invalid_source);
    return;
  }
  if (ip->is_fragment()) {
    stats_.drop(DropReason::ipv4_fragment);
    return;
  }
  switch (ip->protocol()) {
    case header::kProtocolTcp:
      stats_.packets_received.add();
      tcp_.receive({src, ip->destination(), ip->payload()}, checksum);
      return;
    case header::kProtocolIcmp:
      stats_.packets_received.add();
      icmp_.receive(*ip, checksum, now_);
      return;
    default:
      stats_.drop(DropReason::unsupported_protocol);
      return;
  }
}

void Engine::send_ip(const IpAddress& destination, std::span<uint8_t> frame,
                     const FrameOffload& offload) {
  if (destination.is_v4()) {
    send_ipv4(destination.v4(), frame, offload);
  } else {
    send_ipv6(destination.v6, frame, offload);
  }
}

Result<IpAddress> Engine::source_for(const IpAddress& destination) const {
  const auto not_a_peer = [&] {
    return error(ErrorCode::kInvalidArgument,
                 destination.to_string() + " is not a unicast peer address");
  };
  if (destination.is_v4()) {
    const Ipv4Address d = destination.v4();
    if (d.is_unspecified() || d.is_multicast_or_broadcast() || d.is_loopback() ||
        d == config_.address.address || d == config_.address.broadcast()) {
      return not_a_peer();
    }
    if (!config_.address.contains(d) && !config_.gateway) {
      return error(ErrorCode::kUnavailable, "no route to " + destination.to_string() +
                                                ": off-link and no gateway configured");
    }
    return IpAddress(config_.address.address);
  }
  const Ipv6Address& d = destination.v6;
  if (d.is_unspecified() || d.is_multicast() || d.is_loopback() || config_.is_local(d)) {
    return not_a_peer();
  }
  if (!ndp_.on_link(d) && (!config_.ipv6_gateway || config_.ipv6_addresses.empty())) {
    return error(ErrorCode::kUnavailable, "no route to " + destination.to_string() +
                                              (config_.ipv6_addresses.empty()
                                                   ? ": no IPv6 address configured"
                                                   : ": off-link and no IPv6 gateway configured"));
  }
  // RFC 6724's first rules as they apply to a host with one link (Ndp::source_for), among the
  // addresses duplicate address detection let us use (RFC 4862 §5.4: never a tentative one).
  if (auto source = ndp_.source_for(d, now_)) return IpAddress(*source);
  return error(ErrorCode::kUnavailable, "no usable IPv6 address towards " +
                                            destination.to_string() +
                                            ": duplicate address detection has not passed");
}

void Engine::send_ipv4(Ipv4Address destination, std::span<uint8_t> frame,
                       const FrameOffload& offload) {
  // On-link peers directly; everything else through the gateway, if there is one.
  Ipv4Address next_hop = destination;
  if (!config_.address.contains(destination)) {
    if (!config_.gateway) {
      stats_.drop(DropReason::no_route);
      return;
    }
    next_hop = *config_.gateway;
  }
  arp_.send_ipv4(next_hop, frame, offload, now_);
}

void Engine::send_ipv6(const Ipv6Address& destination, std::span<uint8_t> frame,
                       const FrameOffload& offload) {
  // On-link (link-local, or in one of our prefixes) directly; everything else through the
  // router, if there is one.
  Ipv6Address next_hop = destination;
  if (!ndp_.on_link(destination)) {
    if (!config_.ipv6_gateway) {
      stats_.drop(DropReason::no_route);
      return;
    }
    next_hop = *config_.ipv6_gateway;
  }
  ndp_.send(next_hop, frame, offload, now_);
}

}  // namespace tapstack
