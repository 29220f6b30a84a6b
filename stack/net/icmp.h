// ICMP (RFC 792) as Linux's icmp.c and tcp_v4_err use it: echo requests get replies under a
// global token bucket shared with ICMPv6 (icmp_rate_limit.h), and errors that quote one of our
// TCP segments go to TCP, which decides what they do (see Tcp::icmp_error).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "stack/clock.h"
#include "stack/engine_config.h"
#include "stack/header/icmp.h"
#include "stack/header/ipv4.h"
#include "stack/net/icmp_rate_limit.h"
#include "stack/net/ip_output.h"
#include "stack/stats.h"
#include "stack/tcp/tcp.h"

namespace tapstack::net {

// Why an error ends a connection attempt, as the Connect call reports it; empty for the ICMP
// messages TCP does not act on (fragmentation needed: we do no path MTU discovery; codes
// beyond RFC 1812's list; types other than unreachable, time exceeded and parameter problem).
std::string_view icmp_error_reason(uint8_t type, uint8_t code);

// What a packet whose next hop never answered ARP reports, as Linux's local host unreachable.
inline constexpr std::string_view kNoArpReply = "host unreachable (no ARP reply)";

class Icmp {
 public:
  Icmp(const EngineConfig& config, Stats& stats, IpOutput& output, tcp::Tcp& tcp,
       IcmpRateLimit& rate_limit);

  // An ICMP message addressed to us; the IPv4 checks are done.
  void receive(const header::Ipv4View& ip, RxChecksum checksum, Time now);
  // One of our IPv4 packets that could not be sent: its next hop never answered ARP.
  void next_hop_failed(std::span<const uint8_t> ip_packet);

 private:
  void echo_reply(const header::Ipv4View& ip, const header::IcmpView& request, Time now);
  // Hands an error quoting `quoted` to TCP; false if it quotes no connection of ours.
  bool quoted_error(std::span<const uint8_t> quoted, std::string_view reason);

  const EngineConfig& config_;
  Stats& stats_;
  IpOutput& output_;
  tcp::Tcp& tcp_;
  IcmpRateLimit& rate_limit_;  // shared with ICMPv6
  uint16_t ip_id_ = 0;
  std::vector<uint8_t> buffer_;  // reused for every reply
};

}  // namespace tapstack::net
