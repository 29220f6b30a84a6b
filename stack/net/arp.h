// ARP (RFC 826): answers who-has for our address and resolves IPv4 next hops, a thin front end
// over the neighbour table it shares with NDP (neighbour_table.h), kept as Linux's arp_process
// keeps it: entries are created only by our own resolution or by a who-has for our address;
// unsolicited replies and announcements only update entries that exist.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/engine_config.h"
#include "stack/frame_sink.h"
#include "stack/header/arp.h"
#include "stack/net/neighbour_table.h"
#include "stack/stats.h"
#include "stack/timer_wheel.h"

namespace tapstack::net {

class Arp final : private NeighbourProtocol<Ipv4Address> {
 public:
  static constexpr uint8_t kTimerKind = 1;
  using Table = NeighbourTable<Ipv4Address>;
  static constexpr Duration kGcInterval = Table::kGcInterval;

  Arp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink, Time now);

  // Told, for each packet that waited for a next hop that never answered, the IPv4 packet
  // (Linux's arp_error_report, which turns it into a local host-unreachable error).
  void set_unreachable_handler(Table::UnreachableHandler handler) {
    table_.set_unreachable_handler(std::move(handler));
  }
  // Sends `frame` (an IPv4 packet behind 14 bytes kept free for the Ethernet header; `offload`
  // what the link is to finish) to `next_hop`, now if its address is known, else once
  // resolution completes.
  void send_ipv4(Ipv4Address next_hop, std::span<uint8_t> frame, const FrameOffload& offload,
                 Time now) {
    table_.send(next_hop, frame, offload, now);
  }
  // True when the frame names a sender this table may learn (what other loops may learn from).
  bool receive(const header::ArpView& arp, Time now);
  // What another loop of the same stack received (with several queues, ARP reaches only the
  // first): entries this loop has learn the sender's MAC, resolving what waits on them; nothing
  // is answered, created or counted, which the receiving loop did.
  void learn_from_copy(const header::ArpView& arp, Time now);
  void on_timer(TimerNode& node, Time now) { table_.on_timer(node, now); }

  size_t pending_bytes() const { return table_.pending_bytes(); }

 private:
  void solicit(const Ipv4Address& target, const std::optional<MacAddress>& known,
               Time now) override;
  void reply(const header::ArpView& request);
  // Whether an ARP sender could be a neighbour: a unicast address on our subnet, not ours.
  bool plausible_neighbour(Ipv4Address sender) const;

  const EngineConfig& config_;
  Stats& stats_;
  FrameSink& sink_;
  Table table_;
};

}  // namespace tapstack::net
