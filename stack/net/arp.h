// ARP (RFC 826) with a neighbour table bounded like Linux's: answers who-has for our address,
// resolves next hops with retries, holds frames waiting for resolution under a per-next-hop
// and a total bound, and keeps its entries the way Linux's arp_process and neighbour garbage
// collection do:
//  - entries are created only by our own resolution or by a who-has for our address;
//    unsolicited replies and announcements only update entries that exist;
//  - a known MAC is not replaced within locktime of its last update;
//  - a permanent entry (the gateway's, if configured) is never changed and never expires;
//  - below gc_thresh1 nothing is collected; above it, entries unused for gc_stale_time are
//    collected every kGcInterval; above gc_thresh2 a forced collection removes entries not
//    updated for 5 s, and at gc_thresh3 a new entry is refused if none can be removed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "stack/engine_config.h"
#include "stack/frame_sink.h"
#include "stack/header/arp.h"
#include "stack/stats.h"
#include "stack/timer_wheel.h"

namespace tapstack::net {

class Arp {
 public:
  static constexpr uint8_t kTimerKind = 1;
  // Pace of the periodic collection (Linux's neigh_periodic_work: base_reachable_time / 2).
  static constexpr Duration kGcInterval = seconds(15);
  // A forced collection spares entries updated this recently (Linux's neigh_forced_gc).
  static constexpr Duration kForcedGcAge = seconds(5);

  // Told, for each packet that waited for a next hop that never answered, the IPv4 packet
  // (Linux's arp_error_report, which turns it into a local host-unreachable error).
  using UnreachableHandler = std::function<void(std::span<const uint8_t> ip_packet)>;

  Arp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now);

  void set_unreachable_handler(UnreachableHandler handler) { on_unreachable_ = std::move(handler); }
  // Sends `frame` (an IPv4 packet behind 14 bytes kept free for the Ethernet header; `offload`
  // what the link is to finish) to `next_hop`, now if its address is known, else once
  // resolution completes.
  void send_ipv4(Ipv4Address next_hop, std::span<uint8_t> frame, const FrameOffload& offload,
                 Time now);
  // True when the frame names a sender this table may learn (what other loops may learn from).
  bool receive(const header::ArpView& arp, Time now);
  // What another loop of the same stack received (with several queues, ARP reaches only the
  // first): entries this loop has learn the sender's MAC, resolving what waits on them; nothing
  // is answered, created or counted, which the receiving loop did.
  void learn_from_copy(const header::ArpView& arp, Time now);
  void on_timer(TimerNode& node, Time now);

  size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct Waiting {
    std::vector<uint8_t> frame;
    FrameOffload offload;
  };
  struct Entry : TimerNode {
    Ipv4Address ip;
    std::optional<MacAddress> mac;
    bool permanent = false;
    Time expires{};    // the MAC is trusted until then
    Time updated{};    // the MAC was last set or confirmed (locktime, forced collection)
    Time used{};       // a frame last went through, or the MAC was confirmed (collection)
    int requests = 0;  // sent in the current resolution or refresh
    std::deque<Waiting> pending;
  };

  // The entry for `ip`, created if there is room; null if the table is full.
  Entry* create(Ipv4Address ip, Time now);
  void erase(Entry& entry);
  void forced_gc(Time now);
  void periodic_gc(Time now);
  void arm_gc(Time now);
  // An ARP packet's news about a known entry, under the locktime and permanence rules.
  void update(Entry& entry, const MacAddress& mac, Time now);
  void learn(Entry& entry, const MacAddress& mac, Time now);
  void fail(Entry& entry);
  void request(Entry& entry, Time now);
  void reply(const header::ArpView& request);
  void transmit(std::span<uint8_t> frame, const FrameOffload& offload,
                const MacAddress& destination);
  void put_on_link(std::span<const uint8_t> frame, const FrameOffload& offload = {});
  // Whether an ARP sender could be a neighbour: a unicast address on our subnet, not ours.
  bool plausible_neighbour(Ipv4Address sender) const;

  const EngineConfig& config_;
  Stats& stats_;
  TimerWheel& timers_;
  FrameSink& sink_;
  UnreachableHandler on_unreachable_;
  std::unordered_map<Ipv4Address, Entry> entries_;
  size_t collectable_ = 0;  // entries that are not permanent (Linux's gc_entries)
  size_t pending_bytes_ = 0;
  Time last_forced_gc_;
  TimerNode gc_timer_;
};

}  // namespace tapstack::net
