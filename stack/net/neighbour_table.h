// The neighbour table that ARP (RFC 826) and Neighbour Discovery (RFC 4861) share, one per
// family, bounded and kept the way Linux's neighbour layer (net/core/neighbour.c) keeps both:
//  - entries are created only by our own resolution or by the protocol front end (a who-has or
//    a solicitation for our address); news about unknown neighbours only updates entries that
//    exist;
//  - a known MAC is not replaced within locktime of its last update;
//  - a permanent entry (the gateway's, if configured) is never changed and never expires;
//  - below gc_thresh1 nothing is collected; above it, entries unused for gc_stale_time are
//    collected every kGcInterval; above gc_thresh2 a forced collection removes entries not
//    updated for 5 s, and at gc_thresh3 a new entry is refused if none can be removed;
//  - frames waiting for resolution are bounded per next hop and in total.
// The front end (NeighbourProtocol) says how a next hop is solicited; everything else is here.
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
#include "stack/stats.h"
#include "stack/timer_wheel.h"

namespace tapstack::net {

// What a table needs of its protocol: a way to ask a next hop for its MAC.
template <class Address>
class NeighbourProtocol {
 public:
  virtual ~NeighbourProtocol() = default;
  // Sends one request for `target`'s MAC; `known` is the MAC the entry holds when this refreshes
  // an entry in use (NDP then asks it directly, RFC 4861 §7.3.3; ARP broadcasts regardless).
  virtual void solicit(const Address& target, const std::optional<MacAddress>& known, Time now) = 0;
};

// The counters and drop reasons one family's table reports under.
struct NeighbourCounters {
  Counter Stats::*created;
  Counter Stats::*removed;
  DropReason queue_full;
  DropReason queue_bytes_full;
  DropReason failed;
  DropReason table_full;
  DropReason locked;
  DropReason permanent;
};

template <class Address>
class NeighbourTable {
 public:
  // Pace of the periodic collection (Linux's neigh_periodic_work: base_reachable_time / 2).
  static constexpr Duration kGcInterval = seconds(15);
  // A forced collection spares entries updated this recently (Linux's neigh_forced_gc).
  static constexpr Duration kForcedGcAge = seconds(5);

  // Told, for each packet that waited for a next hop that never answered, the IP packet (Linux's
  // error_report: arp_error_report, ndisc_error_report).
  using UnreachableHandler = std::function<void(std::span<const uint8_t> ip_packet)>;

  struct Setup {
    uint8_t timer_kind;   // the kind of this table's timer nodes
    uint16_t ether_type;  // of the frames it sends
    NeighbourCounters counters;
    // A permanent entry: the gateway, when its MAC is configured.
    std::optional<Address> permanent{};
    std::optional<MacAddress> permanent_mac{};
  };

  NeighbourTable(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink,
                 NeighbourProtocol<Address>& protocol, const Setup& setup, Time now);

  void set_unreachable_handler(UnreachableHandler handler) { on_unreachable_ = std::move(handler); }
  // Sends `frame` (an IP packet behind kLinkHeadroom bytes; `offload` what the link is to
  // finish) to `next_hop`, now if its MAC is known, else once resolution completes.
  void send(const Address& next_hop, std::span<uint8_t> frame, const FrameOffload& offload,
            Time now);
  bool contains(const Address& neighbour) const { return entries_.contains(neighbour); }
  // News of `neighbour`'s MAC for an entry that exists (a reply or an advertisement), under the
  // locktime and permanence rules; `override` false keeps a different MAC already known (RFC 4861
  // §7.2.5's Override flag; ARP's news always overrides). False if there is no entry.
  bool update(const Address& neighbour, const MacAddress& mac, Time now, bool override = true);
  // The same, creating the entry if there is none and room for it: the asker of a request for
  // our address will talk to us (Linux's neigh_event_ns).
  void learn_asker(const Address& neighbour, const MacAddress& mac, Time now);
  void on_timer(TimerNode& node, Time now);

  size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct Waiting {
    std::vector<uint8_t> frame;
    FrameOffload offload;
  };
  struct Entry : TimerNode {
    Address ip;
    std::optional<MacAddress> mac;
    bool permanent = false;
    Time expires{};    // the MAC is trusted until then
    Time updated{};    // the MAC was last set or confirmed (locktime, forced collection)
    Time used{};       // a frame last went through, or the MAC was confirmed (collection)
    int requests = 0;  // sent in the current resolution or refresh
    std::deque<Waiting> pending;
  };

  // The entry for `ip`, created if there is room; null if the table is full.
  Entry* create(const Address& ip, Time now);
  void erase(Entry& entry);
  void forced_gc(Time now);
  void periodic_gc(Time now);
  void arm_gc(Time now);
  void update(Entry& entry, const MacAddress& mac, Time now, bool override);
  void learn(Entry& entry, const MacAddress& mac, Time now);
  void fail(Entry& entry);
  void request(Entry& entry, Time now);
  void transmit(std::span<uint8_t> frame, const FrameOffload& offload,
                const MacAddress& destination);
  void drop(DropReason reason) { stats_.drop(reason); }

  const EngineConfig& config_;
  Stats& stats_;
  TimerWheel& timers_;
  FrameSink& sink_;
  NeighbourProtocol<Address>& protocol_;
  const Setup setup_;
  UnreachableHandler on_unreachable_;
  std::unordered_map<Address, Entry> entries_;
  size_t collectable_ = 0;  // entries that are not permanent (Linux's gc_entries)
  size_t pending_bytes_ = 0;
  Time last_forced_gc_;
  TimerNode gc_timer_;
};

// Puts a finished frame on the link, counting it as sent or refused.
void put_on_link(FrameSink& sink, Stats& stats, std::span<const uint8_t> frame,
                 const FrameOffload& offload = {});

}  // namespace tapstack::net
