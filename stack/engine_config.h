// Everything the engine can be told at start; TunableConfig is the part that may change while
// it runs (the daemon's UpdateConfig).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "stack/clock.h"
#include "stack/header/addresses.h"
#include "stack/header/ip_address.h"
#include "stack/tcp/congestion_control.h"
#include "stack/tcp/siphash.h"
#include "stack/tcp/syn_cookies.h"

namespace tapstack {

struct TunableConfig {
  tcp::SynCookieMode syncookies = tcp::SynCookieMode::kAuto;
  int syn_retries = 6;     // Linux tcp_syn_retries: gives up 127 s after the first SYN
  int synack_retries = 5;  // Linux tcp_synack_retries: gives up 63 s after the first SYN-ACK
  // Answer a final ACK that finds the accept queue full with RST instead of dropping it
  // (Linux tcp_abort_on_overflow).
  bool abort_on_overflow = false;
};

struct EngineConfig {
  MacAddress mac{{0x02, 0, 0, 0, 0, 0x02}};
  Ipv4Subnet address{{0xc6120002}, 24};  // 198.18.0.2/24
  std::optional<Ipv4Address> gateway;
  // IPv6 addresses beside `address`. The link-local address derived from the MAC
  // (link_local()) is always ours as well, as a host's is (RFC 4291 §2.1, RFC 4862 §5.3).
  std::vector<Ipv6Subnet> ipv6_addresses;
  // The IPv6 router for off-link destinations: link-local, or on one of ipv6_addresses.
  std::optional<Ipv6Address> ipv6_gateway;
  // Duplicate address detection probes per address at start (RFC 4862 §5.1
  // DupAddrDetectTransmits, Linux's dad_transmits); 0 turns DAD off, as Linux's `nodad`.
  int ipv6_dad_transmits = 1;
  uint16_t mtu = 1500;
  // The link cuts a large TCP segment into segments of a given size and completes their
  // checksums, as a NIC's TSO does (frame_sink.h): data segments the send side sends back to
  // back then leave as one frame.
  bool segmentation_offload = false;
  TunableConfig tunable;

  Duration initial_rto = seconds(1);                    // RFC 6298 §2.1
  int fin_retries = 8;                                  // like Linux's orphan retries
  Duration time_wait = seconds(60);                     // Linux TCP_TIMEWAIT_LEN
  Duration fin_wait2_timeout = seconds(60);             // Linux tcp_fin_timeout
  Duration challenge_ack_interval = milliseconds(500);  // Linux tcp_invalid_ratelimit
  size_t receive_buffer = 128 * 1024;  // per connection; the advertised window never exceeds it
  size_t send_buffer = 256 * 1024;     // per connection: bytes written and not yet acknowledged
  // Retransmissions of unacknowledged data before the connection is given up (Linux's
  // tcp_retries2: about 15 minutes with a 200 ms RTO).
  int data_retries = 15;
  tcp::CongestionControlKind congestion_control = tcp::CongestionControlKind::kCubic;  // as Linux
  Duration delayed_ack = milliseconds(40);  // Linux TCP_DELACK_MIN; RFC 1122 allows 500 ms
  size_t max_endpoints = 65536;             // listeners, connections and unbound endpoints together
  // TIME-WAIT records (Linux's tcp_max_tw_buckets), about 150 bytes each; beyond it a closing
  // connection skips TIME-WAIT.
  size_t max_time_wait = 65536;
  // Half-open records over all listeners (each listener also has its syn_backlog); beyond it
  // SYNs are answered with cookies (or dropped with cookies off).
  size_t max_half_open = 65536;
  // Connections closed by the user that still finish their FIN exchange (Linux's
  // tcp_max_orphans); beyond it Close resets instead of sending FIN. They never count against
  // max_endpoints, so a peer that never answers our FIN cannot stall new connections.
  size_t max_orphans = 16384;
  uint16_t ephemeral_port_first = 32768;  // Linux ip_local_port_range
  uint16_t ephemeral_port_last = 60999;

  // The neighbour tables' bounds and timing, for ARP and NDP alike (each family has a table of
  // its own under the same bounds; the names are ARP's, which the daemon's flags use).
  Duration arp_retry_interval = seconds(1);
  int arp_retries = 3;
  Duration arp_entry_lifetime = seconds(60);
  size_t arp_queue_limit = 64;             // frames waiting per unresolved next hop
  size_t arp_queue_bytes_limit = 1 << 20;  // frames waiting for any next hop, in bytes
  // The neighbour table's bounds, as Linux's gc_thresh1/2/3: below thresh1 nothing is
  // collected; above thresh2 a forced collection runs at most every 5 s; at thresh3 new
  // entries are refused unless one can be collected.
  size_t arp_gc_thresh1 = 128;
  size_t arp_gc_thresh2 = 512;
  size_t arp_gc_thresh3 = 1024;
  Duration arp_gc_stale_time = seconds(60);  // unused this long: collectable (gc_stale_time)
  Duration arp_locktime = seconds(1);        // a known MAC is not replaced sooner (locktime)
  std::optional<MacAddress> gateway_mac;     // a permanent entry for the gateway
  // ICMP output (echo replies): a token bucket like Linux's icmp_msgs_per_sec/icmp_msgs_burst.
  uint32_t icmp_messages_per_second = 1000;
  uint32_t icmp_burst = 50;

  // One engine loop per TAP queue: this engine reads queue `queue` of `queues`, and picks for
  // an active open a local port whose frames the TAP's steering program (keyed with
  // steering_key, the same for every loop) sends to that queue (stack/tcp/queue_steering.h).
  uint32_t queue = 0;
  uint32_t queues = 1;
  tcp::SipKey steering_key{};

  Ipv6Address link_local() const { return Ipv6Address::link_local_from_mac(mac); }
  // Whether `a` is one of this stack's unicast addresses, either family.
  bool is_local(const IpAddress& a) const {
    if (a.is_v4()) return a.v4() == address.address;
    if (a.v6 == link_local()) return true;
    for (const auto& subnet : ipv6_addresses) {
      if (subnet.address == a.v6) return true;
    }
    return false;
  }
};

}  // namespace tapstack
