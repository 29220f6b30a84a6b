#include "stack/net/arp.h"

#include "stack/header/ethernet.h"
#include "stack/net/ip_output.h"

namespace tapstack::net {

using header::ArpView;

Arp::Arp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now)
    : config_(config), stats_(stats), timers_(timers), sink_(sink), last_forced_gc_(now) {
  gc_timer_.kind = kTimerKind;
  if (config_.gateway && config_.gateway_mac) {
    Entry& gateway = entries_[*config_.gateway];
    gateway.kind = kTimerKind;
    gateway.ip = *config_.gateway;
    gateway.mac = config_.gateway_mac;
    gateway.permanent = true;
    stats_.arp_entries_created.add();
  }
}

void Arp::put_on_link(std::span<const uint8_t> frame, const FrameOffload& offload) {
  if (sink_.send_frame(frame, offload)) {
    stats_.frames_sent.add();
  } else {
    stats_.link_write_errors.add();
  }
}

void Arp::transmit(std::span<uint8_t> frame, const FrameOffload& offload,
                   const MacAddress& destination) {
  header::write_ethernet(frame.data(), destination, config_.mac, header::kEtherTypeIpv4);
  put_on_link(frame, offload);
  stats_.packets_sent.add();
}

Arp::Entry* Arp::create(Ipv4Address ip, Time now) {
  // Linux's neigh_alloc: above thresh2 a forced collection at most every 5 s; at thresh3 on
  // every new entry in Linux, here at most once a second, so that a flood of new senders
  // cannot make every packet scan the table.
  bool full = collectable_ >= config_.arp_gc_thresh3;
  if ((full && now - last_forced_gc_ >= seconds(1)) ||
      (collectable_ >= config_.arp_gc_thresh2 && now - last_forced_gc_ >= kForcedGcAge)) {
    forced_gc(now);
    full = collectable_ >= config_.arp_gc_thresh3;
  }
  if (full) {
    stats_.drop(DropReason::arp_table_full);
    return nullptr;
  }
  Entry& entry = entries_[ip];
  entry.kind = kTimerKind;
  entry.ip = ip;
  entry.updated = entry.used = now;
  ++collectable_;
  stats_.arp_entries_created.add();
  arm_gc(now);
  return &entry;
}

void Arp::erase(Entry& entry) {
  for (const Waiting& w : entry.pending) pending_bytes_ -= w.frame.size();
  if (!entry.permanent) --collectable_;
  stats_.arp_entries_removed.add();
  entries_.erase(entry.ip);  // destroys entry, cancelling its timer
}

void Arp::forced_gc(Time now) {
  last_forced_gc_ = now;
  for (auto it = entries_.begin(); it != entries_.end() && collectable_ > config_.arp_gc_thresh2;) {
    Entry& entry = (it++)->second;
    if (!entry.permanent && entry.pending.empty() && now - entry.updated >= kForcedGcAge) {
      erase(entry);
    }
  }
}

void Arp::periodic_gc(Time now) {
  // Linux's neigh_periodic_work: nothing below thresh1; above it, every entry unused for
  // gc_stale_time that holds no frames.
  if (collectable_ >= config_.arp_gc_thresh1) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& entry = (it++)->second;
      if (!entry.permanent && entry.pending.empty() && !entry.armed() &&
          now - entry.used >= config_.arp_gc_stale_time) {
        erase(entry);
      }
    }
  }
  arm_gc(now);
}

void Arp::arm_gc(Time now) {
  if (collectable_ >= config_.arp_gc_thresh1 && !gc_timer_.armed()) {
    timers_.arm(gc_timer_, now + kGcInterval);
  }
}

void Arp::send_ipv4(Ipv4Address next_hop, std::span<uint8_t> frame, const FrameOffload& offload,
                    Time now) {
  Entry* entry;
  if (auto it = entries_.find(next_hop); it != entries_.end()) {
    entry = &it->second;
  } else if (!(entry = create(next_hop, now))) {
    return;
  }
  entry->used = now;
  if (entry->permanent) {
    transmit(frame, offload, *entry->mac);
    return;
  }
  if (entry->mac && now < entry->expires) {
    transmit(frame, offload, *entry->mac);
    // Refresh an entry in use during the last quarter of its life, so traffic never stalls.
    if (!entry->armed() && entry->expires - now < config_.arp_entry_lifetime / 4) {
      entry->requests = 0;
      request(*entry, now);
    }
    return;
  }
  entry->mac.reset();
  if (!entry->armed()) {
    entry->requests = 0;
    request(*entry, now);
  }
  if (entry->pending.size() >= config_.arp_queue_limit) {
    stats_.drop(DropReason::arp_queue_full);
    return;
  }
  // Per next hop the queue is short; across next hops an attacker who makes us resolve many
  // addresses (SYNs from spoofed on-link sources) could still fill memory, so bytes are capped.
  if (pending_bytes_ + frame.size() > config_.arp_queue_bytes_limit) {
    stats_.drop(DropReason::arp_queue_bytes_full);
    return;
  }
  entry->pending.push_back({{frame.begin(), frame.end()}, offload});
  pending_bytes_ += frame.size();
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
  entry.updated = entry.used = now;
  timers_.cancel(entry);
  while (!entry.pending.empty()) {
    Waiting& w = entry.pending.front();
    pending_bytes_ -= w.frame.size();
    transmit(w.frame, w.offload, mac);
    entry.pending.pop_front();
  }
}

void Arp::update(Entry& entry, const MacAddress& mac, Time now) {
  if (entry.permanent) {
    if (mac != *entry.mac) stats_.drop(DropReason::arp_static);
    return;
  }
  // Linux's arp_process takes the first of several back-to-back answers (proxies, or a
  // spoofer racing the real host) and ignores a different MAC until locktime has passed.
  if (entry.mac && mac != *entry.mac && now - entry.updated < config_.arp_locktime) {
    stats_.drop(DropReason::arp_locked);
    return;
  }
  learn(entry, mac, now);
}

bool Arp::plausible_neighbour(Ipv4Address sender) const {
  return config_.address.contains(sender) && config_.address.could_be_peer(sender);
}

void Arp::reply(const ArpView& request) {
  uint8_t frame[header::EthernetView::kSize + ArpView::kSize];
  header::write_ethernet(frame, request.sender_mac(), config_.mac, header::kEtherTypeArp);
  header::write_arp(frame + header::EthernetView::kSize, header::kArpReply, config_.mac,
                    config_.address.address, request.sender_mac(), request.sender_ip());
  put_on_link(frame);
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
  if (auto it = entries_.find(sender); it != entries_.end()) {
    update(it->second, arp.sender_mac(), now);
  } else if (is_request && for_us) {
    // Linux's arp_process creates the asker's entry (neigh_event_ns): it will talk to us.
    if (Entry* entry = create(sender, now)) learn(*entry, arp.sender_mac(), now);
  } else if (!is_request) {
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
  if (auto it = entries_.find(sender); it != entries_.end())
    update(it->second, arp.sender_mac(), now);
}

void Arp::fail(Entry& entry) {
  std::deque<Waiting> waiting = std::move(entry.pending);
  entry.pending.clear();
  for (const Waiting& w : waiting) pending_bytes_ -= w.frame.size();
  stats_.drops[static_cast<size_t>(DropReason::arp_failed)].add(waiting.size());
  erase(entry);
  if (!on_unreachable_) return;
  for (const Waiting& w : waiting) {
    on_unreachable_(std::span<const uint8_t>(w.frame).subspan(kLinkHeadroom));
  }
}

void Arp::on_timer(TimerNode& node, Time now) {
  if (&node == &gc_timer_) {
    periodic_gc(now);
    return;
  }
  Entry& entry = static_cast<Entry&>(node);
  if (entry.requests < config_.arp_retries) {
    request(entry, now);
    return;
  }
  if (entry.mac && now < entry.expires) return;  // a refresh went unanswered; the entry ages out
  fail(entry);
}

}  // namespace tapstack::net
