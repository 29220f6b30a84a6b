#include "stack/net/arp.h"

#include "stack/header/ethernet.h"

namespace tapstack::net {

using header::ArpView;

void Arp::put_on_link(std::span<const uint8_t> frame) {
  if (sink_.send_frame(frame)) {
    stats_.frames_sent.add();
  } else {
    stats_.link_write_errors.add();
  }
}

void Arp::transmit(std::span<uint8_t> frame, const MacAddress& destination) {
  header::write_ethernet(frame.data(), destination, config_.mac, header::kEtherTypeIpv4);
  put_on_link(frame);
  stats_.packets_sent.add();
}

void Arp::send_ipv4(Ipv4Address next_hop, std::span<uint8_t> frame, Time now) {
  auto [it, inserted] = entries_.try_emplace(next_hop);
  Entry& entry = it->second;
  if (inserted) {
    entry.kind = kTimerKind;
    entry.ip = next_hop;
  }
  if (entry.mac && now < entry.expires) {
    transmit(frame, *entry.mac);
    // Refresh an entry in use during the last quarter of its life, so traffic never stalls.
    if (!entry.armed() && entry.expires - now < config_.arp_entry_lifetime / 4) {
      entry.requests = 0;
      request(entry, now);
    }
    return;
  }
  entry.mac.reset();
  if (entry.pending.size() >= config_.arp_queue_limit) {
    stats_.drop(DropReason::arp_queue_full);
    return;
  }
  entry.pending.emplace_back(frame.begin(), frame.end());
  if (!entry.armed()) {
    entry.requests = 0;
    request(entry, now);
  }
}

void Arp::request(Entry& entry, Time now) {
  uint8_t frame[header::EthernetView::kSize + ArpView::kSize];
  header::write_ethernet(frame, MacAddress::broadcast(), config_.mac, header::kEtherTypeArp);
  header::write_arp(frame + header::EthernetView::kSize, header::kArpRequest, config_.mac,
                    config_.address.address, MacAddress{}, entry.ip);
  put_on_link(frame);
  stats_.arp_requests_sent.add();
  ++entry.requests;
  timers_.arm(entry, now + config_.arp_retry_interval);
}

void Arp::learn(Entry& entry, const MacAddress& mac, Time now) {
  entry.mac = mac;
  entry.expires = now + config_.arp_entry_lifetime;
  timers_.cancel(entry);
  while (!entry.pending.empty()) {
    transmit(entry.pending.front(), mac);
    entry.pending.pop_front();
  }
}

void Arp::receive(const ArpView& arp, Time now) {
  Ipv4Address sender = arp.sender_ip();
  bool for_us = arp.target_ip() == config_.address.address;
  if (arp.operation() == header::kArpReply) stats_.arp_replies_received.add();
  // RFC 826's merge rule: refresh what we know; learn anew only from packets meant for us.
  auto it = entries_.find(sender);
  if (it != entries_.end()) {
    learn(it->second, arp.sender_mac(), now);
  } else if (for_us && !sender.is_unspecified() && !sender.is_multicast_or_broadcast()) {
    auto [fresh, unused] = entries_.try_emplace(sender);
    fresh->second.kind = kTimerKind;
    fresh->second.ip = sender;
    learn(fresh->second, arp.sender_mac(), now);
  }
  if (!for_us) {
    if (arp.operation() == header::kArpRequest) stats_.drop(DropReason::arp_not_for_us);
    return;
  }
  if (arp.operation() != header::kArpRequest) return;
  stats_.arp_requests_received.add();
  uint8_t reply[header::EthernetView::kSize + ArpView::kSize];
  header::write_ethernet(reply, arp.sender_mac(), config_.mac, header::kEtherTypeArp);
  header::write_arp(reply + header::EthernetView::kSize, header::kArpReply, config_.mac,
                    config_.address.address, arp.sender_mac(), sender);
  put_on_link(reply);
  stats_.arp_replies_sent.add();
}

void Arp::on_timer(TimerNode& node, Time now) {
  Entry& entry = static_cast<Entry&>(node);
  if (entry.requests < config_.arp_retries) {
    request(entry, now);
    return;
  }
  if (entry.mac && now < entry.expires) return;  // a refresh went unanswered; the entry ages out
  stats_.drops[static_cast<size_t>(DropReason::arp_failed)].add(entry.pending.size());
  entries_.erase(entry.ip);
}

}  // namespace tapstack::net
