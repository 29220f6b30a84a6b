#include "stack/net/ndp.h"

#include "stack/header/ethernet.h"
#include "stack/header/ndp.h"

namespace tapstack::net {

using header::Icmpv6View;
using header::Ipv6View;

namespace {

constexpr size_t kIpOffset = header::EthernetView::kSize;
constexpr size_t kMessageOffset = kIpOffset + Ipv6View::kHeaderSize;
constexpr size_t kFrameSize = kMessageOffset + header::kMaxNeighbourMessageSize;

}  // namespace

Ndp::Ndp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now)
    : config_(config),
      stats_(stats),
      timers_(timers),
      sink_(sink),
      table_(config, stats, timers, sink, *this,
             {.timer_kind = kTimerKind,
              .ether_type = header::kEtherTypeIpv6,
              .counters = {.created = &Stats::ndp_entries_created,
                           .removed = &Stats::ndp_entries_removed,
                           .queue_full = DropReason::ndp_queue_full,
                           .queue_bytes_full = DropReason::ndp_queue_bytes_full,
                           .failed = DropReason::ndp_failed,
                           .table_full = DropReason::ndp_table_full,
                           .locked = DropReason::ndp_locked,
                           .permanent = DropReason::ndp_static}},
             now) {
  // The link-local address is ours whatever else is (RFC 4862 §5.3).
  add_address({config_.link_local(), 64}, now);
  for (const Ipv6Subnet& subnet : config_.ipv6_addresses) add_address(subnet, now);
}

void Ndp::add_address(const Ipv6Subnet& subnet, Time now) {
  if (find(subnet.address)) return;  // listed twice: one address, one DAD
  LocalAddress& address = addresses_.emplace_back();
  address.kind = kDadTimerKind;
  address.subnet = subnet;
  address.probes_left = config_.ipv6_dad_transmits;
  address.tentative_until = now;
}

Ipv6AddressState Ndp::LocalAddress::state(Time now) const {
  if (duplicate) return Ipv6AddressState::kDuplicate;
  if (probes_left > 0 || now < tentative_until) return Ipv6AddressState::kTentative;
  return Ipv6AddressState::kPreferred;
}

void Ndp::probe(LocalAddress& address, Time now) {
  // RFC 4862 §5.4.2: from the unspecified address to the solicited-node group of the address,
  // RetransTimer apart; the address is preferred RetransTimer after the last one.
  const Ipv6Address& target = address.subnet.address;
  uint8_t frame[kFrameSize];
  size_t size = header::write_neighbour_solicitation(frame + kMessageOffset, Ipv6Address{},
                                                     target.solicited_node(), target, config_.mac);
  emit(frame, size, Ipv6Address{}, target.solicited_node(),
       target.solicited_node().multicast_mac());
  stats_.ndp_solicitations_sent.add();
  --address.probes_left;
  address.tentative_until = now + kRetransTimer;
  if (address.probes_left > 0) timers_.arm(address, address.tentative_until);
}

void Ndp::start(Time now) {
  if (started_) return;
  started_ = true;
  for (LocalAddress& address : addresses_) {
    if (address.probes_left > 0) probe(address, now);
  }
}

void Ndp::mark_duplicate(LocalAddress& address) {
  if (address.duplicate) return;
  address.duplicate = true;
  address.probes_left = 0;
  timers_.cancel(address);
  stats_.ipv6_duplicate_addresses.add();
}

void Ndp::on_timer(TimerNode& node, Time now) {
  if (node.kind == kDadTimerKind) {
    probe(static_cast<LocalAddress&>(node), now);
  } else {
    table_.on_timer(node, now);
  }
}

void Ndp::emit(std::span<uint8_t> frame, size_t size, const Ipv6Address& source,
               const Ipv6Address& destination, const MacAddress& destination_mac) {
  header::write_ipv6(frame.data() + kIpOffset, source, destination, header::kProtocolIcmpv6,
                     static_cast<uint16_t>(size), header::kNdpHopLimit, 0);
  header::write_ethernet(frame.data(), destination_mac, config_.mac, header::kEtherTypeIpv6);
  put_on_link(sink_, stats_, frame.first(kMessageOffset + size));
}

void Ndp::solicit(const Ipv6Address& target, const std::optional<MacAddress>& known, Time now) {
  // RFC 4861 §7.2.2: to the target's solicited-node group, or to the target itself when a
  // cached MAC is being confirmed (§7.3.3), from an address of ours that the target can answer.
  auto source = source_for(target, now);
  if (!source) return;  // none usable yet (DAD): the table's retries ask again
  Ipv6Address destination = known ? target : target.solicited_node();
  uint8_t frame[kFrameSize];
  size_t size = header::write_neighbour_solicitation(frame + kMessageOffset, *source, destination,
                                                     target, config_.mac);
  emit(frame, size, *source, destination, known ? *known : destination.multicast_mac());
  stats_.ndp_solicitations_sent.add();
}

void Ndp::advertise(const Ipv6Address& target, const Ipv6Address& destination,
                    const MacAddress& destination_mac, bool solicited) {
  uint8_t frame[kFrameSize];
  size_t size = header::write_neighbour_advertisement(
      frame + kMessageOffset, target, destination, target,
      {.router = false, .solicited = solicited, .override = true}, config_.mac);
  emit(frame, size, target, destination, destination_mac);
  stats_.ndp_advertisements_sent.add();
}

void Ndp::receive(const Ipv6View& ip, const Icmpv6View& icmp, const MacAddress& sender, Time now) {
  if (icmp.type() == header::icmpv6_type::kNeighbourSolicitation) {
    receive_solicitation(ip, icmp, sender, now);
  } else {
    receive_advertisement(ip, icmp, sender, now);
  }
}

void Ndp::receive_solicitation(const Ipv6View& ip, const Icmpv6View& icmp, const MacAddress& sender,
                               Time now) {
  auto ns = header::NeighbourSolicitationView::parse(ip, icmp);
  if (!ns) {
    stats_.drop(DropReason::bad_ndp);
    return;
  }
  stats_.ndp_solicitations_received.add();
  LocalAddress* target = find(ns->target());
  if (!target || target->duplicate) {
    stats_.drop(DropReason::ndp_not_for_us);
    return;
  }
  const bool dad_probe = ip.source().is_unspecified();
  if (target->state(now) == Ipv6AddressState::kTentative) {
    // RFC 4862 §5.4.3: another host probing for the same address means one of us must give it
    // up, and we have not used it yet; any other solicitation for it goes unanswered.
    if (dad_probe && sender != config_.mac) {
      mark_duplicate(*target);
    } else {
      stats_.drop(DropReason::ipv6_tentative);
    }
    return;
  }
  if (dad_probe) {
    // RFC 4861 §7.2.4: the prober has no address to be answered at; all nodes hear it.
    advertise(target->subnet.address, kAllNodes, kAllNodes.multicast_mac(), false);
    return;
  }
  const Ipv6Address& asker = ip.source();
  const auto& asker_mac = ns->source_link_layer();
  // §7.2.3: the asker's MAC, when it gives one, creates or updates its entry; an asker we would
  // never send to directly (off-link) gets no entry.
  if (asker_mac && on_link(asker)) table_.learn_asker(asker, *asker_mac, now);
  advertise(target->subnet.address, asker, asker_mac.value_or(sender), true);
}

void Ndp::receive_advertisement(const Ipv6View& ip, const Icmpv6View& icmp,
                                const MacAddress& sender, Time now) {
  auto na = header::NeighbourAdvertisementView::parse(ip, icmp);
  if (!na) {
    stats_.drop(DropReason::bad_ndp);
    return;
  }
  stats_.ndp_advertisements_received.add();
  if (LocalAddress* ours = find(na->target())) {
    if (sender == config_.mac) return;  // our own, heard back
    // RFC 4862 §5.4.4: another host has the address. A tentative one is given up; one in use
    // stays (Linux logs the conflict and keeps it).
    if (ours->state(now) == Ipv6AddressState::kTentative) {
      mark_duplicate(*ours);
    } else {
      stats_.drop(DropReason::ndp_address_conflict);
    }
    return;
  }
  // §7.2.5: without a target link-layer option there is nothing to learn on Ethernet.
  const auto& mac = na->target_link_layer();
  if (!mac || !table_.update(na->target(), *mac, now, na->flags().override)) {
    stats_.drop(DropReason::ndp_unsolicited);
  }
}

std::vector<Ipv6AddressInfo> Ndp::addresses(Time now) const {
  std::vector<Ipv6AddressInfo> out;
  out.reserve(addresses_.size());
  for (const LocalAddress& a : addresses_) out.push_back({a.subnet, a.state(now)});
  return out;
}

const Ndp::LocalAddress* Ndp::find(const Ipv6Address& a) const {
  for (const LocalAddress& local : addresses_) {
    if (local.subnet.address == a) return &local;
  }
  return nullptr;
}

bool Ndp::is_usable(const Ipv6Address& a, Time now) const {
  const LocalAddress* local = find(a);
  return local && local->state(now) == Ipv6AddressState::kPreferred;
}

bool Ndp::in_our_groups(const Ipv6Address& a) const {
  if (a == kAllNodes) return true;
  if (!a.is_solicited_node()) return false;
  for (const LocalAddress& local : addresses_) {
    if (local.subnet.address.solicited_node() == a) return true;
  }
  return false;
}

bool Ndp::accepts(const MacAddress& mac) const {
  if (mac == kAllNodes.multicast_mac()) return true;
  for (const LocalAddress& local : addresses_) {
    if (local.subnet.address.solicited_node().multicast_mac() == mac) return true;
  }
  return false;
}

bool Ndp::on_link(const Ipv6Address& a) const {
  if (a.is_link_local()) return true;
  for (const LocalAddress& local : addresses_) {
    if (!local.subnet.address.is_link_local() && local.subnet.contains(a)) return true;
  }
  return false;
}

std::optional<Ipv6Address> Ndp::source_for(const Ipv6Address& destination, Time now) const {
  std::optional<Ipv6Address> any_global;
  for (const LocalAddress& local : addresses_) {
    if (local.state(now) != Ipv6AddressState::kPreferred) continue;
    const Ipv6Address& a = local.subnet.address;
    if (destination.is_link_local()) {
      if (a.is_link_local()) return a;
    } else if (!a.is_link_local()) {
      if (local.subnet.contains(destination)) return a;
      if (!any_global) any_global = a;
    }
  }
  return any_global;
}

}  // namespace tapstack::net
