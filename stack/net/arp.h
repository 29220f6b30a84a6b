// ARP (RFC 826): answers who-has for our address, resolves next hops with retries, caches
// what it learns for a lifetime, refreshes entries in use before they expire, and holds a
// bounded queue of frames per next hop while it waits.
#pragma once

#include <cstdint>
#include <deque>
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

  Arp(const EngineConfig& config, Stats& stats, TimerWheel& timers, FrameSink& sink)
      : config_(config), stats_(stats), timers_(timers), sink_(sink) {}

  // Sends `frame` (an IPv4 packet behind 14 bytes kept free for the Ethernet header) to
  // `next_hop`, now if its address is known, else once resolution completes.
  void send_ipv4(Ipv4Address next_hop, std::span<uint8_t> frame, Time now);
  void receive(const header::ArpView& arp, Time now);
  void on_timer(TimerNode& node, Time now);

 private:
  struct Entry : TimerNode {
    Ipv4Address ip;
    std::optional<MacAddress> mac;
    Time expires{};
    int requests = 0;  // sent in the current resolution or refresh
    std::deque<std::vector<uint8_t>> pending;
  };

  void learn(Entry& entry, const MacAddress& mac, Time now);
  void request(Entry& entry, Time now);
  void transmit(std::span<uint8_t> frame, const MacAddress& destination);
  void put_on_link(std::span<const uint8_t> frame);

  const EngineConfig& config_;
  Stats& stats_;
  TimerWheel& timers_;
  FrameSink& sink_;
  std::unordered_map<Ipv4Address, Entry> entries_;
};

}  // namespace tapstack::net
