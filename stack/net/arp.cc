#include "stack/net/arp.h"

#include "stack/header/ethernet.h"

namespace tapstack::net {

using header::ArpView;

Arp::Arp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now)
    : config_(config),
      stats_(stats),
      sink_(sink),
      table_(config, stats, timers, sink, *this,
             {.timer_kind = kTimerKind,
              .ether_type = header::kEtherTypeIpv4,
              .counters = {.created = &Stats::arp_entries_created,
                           .removed = &Stats::arp_entries_removed,
                           .queue_full = DropReason::arp_queue_full,
                           .queue_bytes_full = DropReason::arp_queue_bytes_full,
                           .failed = DropReason::arp_failed,
                           .table_full = DropReason::arp_table_full,
                           .locked = DropReason::arp_locked,
                           .permanent = DropReason::arp_static},
              .permanent = config.gateway,
              .permanent_mac = config.gateway_mac},
             now) {}

void Arp::solicit(const Ipv4Address& target, const std::optional<MacAddress>& /*known*/,
                  Time /*now*/) {
  uint8_t frame[header::EthernetView::kSize + ArpView::kSize];
  header::write_ethernet(frame, MacAddress::broadcast(), config_.mac, header::kEtherTypeArp);
  header::write_arp(frame + header::EthernetView::kSize, header::kArpRequest, config_.mac,
                    config_.address.address, MacAddress{}, target);
  put_on_link(sink_, stats_, frame);
  stats_.arp_requests_sent.add();
}

bool Arp::plausible_neighbour(Ipv4Address sender) const {
  return config_.address.contains(sender) && config_.address.could_be_peer(sender);
}

void Arp::reply(const ArpView& request) {
  uint8_t frame[header::EthernetView::kSize + ArpView::kSize];
  header::write_ethernet(frame, request.sender_mac(), config_.mac, header::kEtherTypeArp);
  header::write_arp(frame + header::EthernetView::kSize, header::kArpReply, config_.mac,
                    config_.address.address, request.sender_mac(), request.sender_ip());
  put_on_link(sink_, stats_, frame);
  stats_.arp_replies_sent.add();
}

bool Arp::receive(const ArpView& arp, Time now) {
  Ipv4Address sender = arp.sender_ip();
  bool is_request = arp.operation() == header::kArpRequest;
  bool for_us = arp.target_ip() == config_.address.address;
  if (arp.operation() == header::kArpReply) stats_.arp_replies_received.add();
  if (is_request && for_us) stats_.arp_requests_received.add();
  if (sender.is_unspecified()) {
    // An address-conflict probe (RFC 5227) teaches nothing; one for our address is answered.
    if (is_request && for_us) {
      reply(arp);
    } else if (is_request) {
      stats_.drop(DropReason::arp_not_for_us);
    }
    return false;
  }
  if (!plausible_neighbour(sender)) {
    stats_.drop(DropReason::arp_bad_sender);
    return false;
  }
  if (is_request && for_us) {
    // Linux's arp_process creates the asker's entry (neigh_event_ns): it will talk to us.
    table_.learn_asker(sender, arp.sender_mac(), now);
  } else if (!table_.update(sender, arp.sender_mac(), now) && !is_request) {
    stats_.drop(DropReason::arp_unsolicited);  // a reply we did not ask for, or an announcement
  }
  if (!is_request) return true;
  if (!for_us) {
    stats_.drop(DropReason::arp_not_for_us);
    return true;
  }
  // Answered even when the table had no room for the asker: the answer costs no memory, and
  // refusing it would let a flood of new senders make us unreachable.
  reply(arp);
  return true;
}

void Arp::learn_from_copy(const ArpView& arp, Time now) {
  Ipv4Address sender = arp.sender_ip();
  if (sender.is_unspecified() || !plausible_neighbour(sender)) return;
  table_.update(sender, arp.sender_mac(), now);
}

}  // namespace tapstack::net
