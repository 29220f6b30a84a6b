// Everything the engine can be told at start; TunableConfig is the part that may change while
// it runs (the daemon's UpdateConfig).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/clock.h"
#include "stack/header/addresses.h"
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
  uint16_t mtu = 1500;
  TunableConfig tunable;

  Duration initial_rto = seconds(1);                    // RFC 6298 §2.1
  int fin_retries = 8;                                  // like Linux's orphan retries
  Duration time_wait = seconds(60);                     // Linux TCP_TIMEWAIT_LEN
  Duration fin_wait2_timeout = seconds(60);             // Linux tcp_fin_timeout
  Duration challenge_ack_interval = milliseconds(500);  // Linux tcp_invalid_ratelimit
  size_t receive_buffer = 128 * 1024;     // per connection; the advertised window never exceeds it
  size_t max_endpoints = 65536;           // listeners, connections and unbound endpoints together
  uint16_t ephemeral_port_first = 32768;  // Linux ip_local_port_range
  uint16_t ephemeral_port_last = 60999;

  Duration arp_retry_interval = seconds(1);
  int arp_retries = 3;
  Duration arp_entry_lifetime = seconds(60);
  size_t arp_queue_limit = 64;  // frames waiting per unresolved next hop
};

}  // namespace tapstack
