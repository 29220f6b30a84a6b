#include "stack/net/neighbour_table.h"

#include "stack/header/ethernet.h"
#include "stack/header/ipv6_address.h"
#include "stack/net/ip_output.h"

namespace tapstack::net {

void put_on_link(FrameSink& sink, Stats& stats, std::span<const uint8_t> frame,
                 const FrameOffload& offload) {
  if (sink.send_frame(frame, offload)) {
    stats.frames_sent.add();
  } else {
    stats.link_write_errors.add();
  }
}

template <class Address>
NeighbourTable<Address>::NeighbourTable(const EngineConfig& config, Stats& stats,
                                        TimerWheel& timers, FrameSink& sink,
                                        NeighbourProtocol<Address>& protocol, const Setup& setup,
                                        Time now)
    : config_(config),
      stats_(stats),
      timers_(timers),
      sink_(sink),
      protocol_(protocol),
      setup_(setup),
      last_forced_gc_(now) {
  gc_timer_.kind = setup_.timer_kind;
  if (setup_.permanent && setup_.permanent_mac) {
    Entry& gateway = entries_[*setup_.permanent];
    gateway.kind = setup_.timer_kind;
    gateway.ip = *setup_.permanent;
    gateway.mac = setup_.permanent_mac;
    gateway.permanent = true;
    (stats_.*setup_.counters.created).add();
  }
}

template <class Address>
void NeighbourTable<Address>::transmit(std::span<uint8_t> frame, const FrameOffload& offload,
                                       const MacAddress& destination) {
  header::write_ethernet(frame.data(), destination, config_.mac, setup_.ether_type);
  put_on_link(sink_, stats_, frame, offload);
  stats_.packets_sent.add();
}

template <class Address>
typename NeighbourTable<Address>::Entry* NeighbourTable<Address>::create(const Address& ip,
                                                                         Time now) {
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
    drop(setup_.counters.table_full);
    return nullptr;
  }
  Entry& entry = entries_[ip];
  entry.kind = setup_.timer_kind;
  entry.ip = ip;
  entry.updated = entry.used = now;
  ++collectable_;
  (stats_.*setup_.counters.created).add();
  arm_gc(now);
  return &entry;
}

template <class Address>
void NeighbourTable<Address>::erase(Entry& entry) {
  for (const Waiting& w : entry.pending) pending_bytes_ -= w.frame.size();
  if (!entry.permanent) --collectable_;
  (stats_.*setup_.counters.removed).add();
  entries_.erase(entry.ip);  // destroys entry, cancelling its timer
}

template <class Address>
void NeighbourTable<Address>::forced_gc(Time now) {
  last_forced_gc_ = now;
  for (auto it = entries_.begin(); it != entries_.end() && collectable_ > config_.arp_gc_thresh2;) {
    Entry& entry = (it++)->second;
    if (!entry.permanent && entry.pending.empty() && now - entry.updated >= kForcedGcAge) {
      erase(entry);
    }
  }
}

template <class Address>
void NeighbourTable<Address>::periodic_gc(Time now) {
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

template <class Address>
void NeighbourTable<Address>::arm_gc(Time now) {
  if (collectable_ >= config_.arp_gc_thresh1 && !gc_timer_.armed()) {
    timers_.arm(gc_timer_, now + kGcInterval);
  }
}

template <class Address>
void NeighbourTable<Address>::send(const Address& next_hop, std::span<uint8_t> frame,
                                   const FrameOffload& offload, Time now) {
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
    drop(setup_.counters.queue_full);
    return;
  }
  // Per next hop the queue is short; across next hops an attacker who makes us resolve many
  // addresses (SYNs from spoofed on-link sources) could still fill memory, so bytes are capped.
  if (pending_bytes_ + frame.size() > config_.arp_queue_bytes_limit) {
    drop(setup_.counters.queue_bytes_full);
    return;
  }
  entry->pending.push_back({{frame.begin(), frame.end()}, offload});
  pending_bytes_ += frame.size();
}

template <class Address>
void NeighbourTable<Address>::request(Entry& entry, Time now) {
  protocol_.solicit(entry.ip, entry.mac, now);
  ++entry.requests;
  timers_.arm(entry, now + config_.arp_retry_interval);
}

template <class Address>
void NeighbourTable<Address>::learn(Entry& entry, const MacAddress& mac, Time now) {
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

template <class Address>
void NeighbourTable<Address>::update(Entry& entry, const MacAddress& mac, Time now, bool override) {
  if (entry.permanent) {
    if (mac != *entry.mac) drop(setup_.counters.permanent);
    return;
  }
  // Linux takes the first of several back-to-back answers (proxies, or a spoofer racing the
  // real host) and ignores a different MAC until locktime has passed.
  bool changes = entry.mac && mac != *entry.mac;
  if (changes && (!override || now - entry.updated < config_.arp_locktime)) {
    drop(setup_.counters.locked);
    return;
  }
  learn(entry, mac, now);
}

template <class Address>
bool NeighbourTable<Address>::update(const Address& neighbour, const MacAddress& mac, Time now,
                                     bool override) {
  auto it = entries_.find(neighbour);
  if (it == entries_.end()) return false;
  update(it->second, mac, now, override);
  return true;
}

template <class Address>
void NeighbourTable<Address>::learn_asker(const Address& neighbour, const MacAddress& mac,
                                          Time now) {
  if (update(neighbour, mac, now)) return;
  if (Entry* entry = create(neighbour, now)) learn(*entry, mac, now);
}

template <class Address>
void NeighbourTable<Address>::fail(Entry& entry) {
  std::deque<Waiting> waiting = std::move(entry.pending);
  entry.pending.clear();
  for (const Waiting& w : waiting) pending_bytes_ -= w.frame.size();
  stats_.drops[static_cast<size_t>(setup_.counters.failed)].add(waiting.size());
  erase(entry);
  if (!on_unreachable_) return;
  for (const Waiting& w : waiting) {
    on_unreachable_(std::span<const uint8_t>(w.frame).subspan(kLinkHeadroom));
  }
}

template <class Address>
void NeighbourTable<Address>::on_timer(TimerNode& node, Time now) {
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

template class NeighbourTable<Ipv4Address>;
template class NeighbourTable<Ipv6Address>;

}  // namespace tapstack::net
