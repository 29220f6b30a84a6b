// ICMPv6 (RFC 4443) as Linux's net/ipv6/icmp.c and tcp_v6_err use it: echo requests get replies,
// Neighbour Discovery's messages go to Ndp, errors that quote one of our TCP segments go to TCP,
// and our own errors (Parameter Problem) are sent under the rules of §2.4. Every message we send
// but ND's takes a token from the bucket ICMP shares (icmp_rate_limit.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "stack/clock.h"
#include "stack/engine_config.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/net/icmp_rate_limit.h"
#include "stack/net/ip_output.h"
#include "stack/net/ndp.h"
#include "stack/stats.h"
#include "stack/tcp/tcp.h"

namespace tapstack::net {

// Why an error ends a connection attempt, as the Connect call reports it; empty for the messages
// TCP does not act on. Destination unreachable's codes are Linux's tab_unreach (codes past it
// are network unreachable there too).
std::string_view icmpv6_error_reason(uint8_t type, uint8_t code);

// What a packet whose next hop never answered NDP reports (Linux's ndisc_error_report: address
// unreachable).
inline constexpr std::string_view kNoNeighbourAdvertisement =
    "address unreachable (no neighbour advertisement)";

namespace parameter_problem {
inline constexpr uint8_t kErroneousHeaderField = 0;
inline constexpr uint8_t kUnrecognizedNextHeader = 1;
inline constexpr uint8_t kUnrecognizedOption = 2;
}  // namespace parameter_problem

class Icmpv6 {
 public:
  Icmpv6(Stats& stats, IpOutput& output, tcp::Tcp& tcp, IcmpRateLimit& rate_limit, Ndp& ndp);

  // An ICMPv6 message (`message`, the upper layer of `ip`) addressed to us; the IPv6 checks are
  // done. `sender`: the Ethernet source, for NDP.
  void receive(const header::Ipv6View& ip, std::span<const uint8_t> message,
               const MacAddress& sender, RxChecksum checksum, Time now);
  // Answers `ip`, which we drop, with a Parameter Problem pointing at `pointer` (RFC 4443 §3.4),
  // unless §2.4 (e) forbids it: never about an ICMPv6 error (`about_error`), nor to an
  // unspecified or multicast source, nor for a multicast destination unless `even_to_multicast`
  // (an unrecognized option whose type asks for it, RFC 8200 §4.2).
  void parameter_problem(const header::Ipv6View& ip, uint8_t code, size_t pointer,
                         bool even_to_multicast, Time now);
  // One of our IPv6 packets that could not be sent: its next hop never answered NDP.
  void next_hop_failed(std::span<const uint8_t> ip_packet);

 private:
  void echo_reply(const header::Ipv6View& ip, const header::Icmpv6View& request, Time now);
  void error(const header::Icmpv6View& icmp);
  // Sends the ICMPv6 message of `message_size` bytes written at kLinkHeadroom + 40 in buffer_.
  void send(const Ipv6Address& source, const Ipv6Address& destination, size_t message_size);

  Stats& stats_;
  IpOutput& output_;
  tcp::Tcp& tcp_;
  IcmpRateLimit& rate_limit_;
  Ndp& ndp_;
  std::vector<uint8_t> buffer_;  // reused for every message
};

}  // namespace tapstack::net
