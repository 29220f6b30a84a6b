// tapstackd's command line: every flag once, in a table that both parses and documents it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/log.h"
#include "stack/clock.h"
#include "stack/engine_config.h"
#include "stack/header/addresses.h"
#include "stack/link/link_io.h"

namespace tapstack::server {

// The longest spin of --busy-poll-us auto: on the 2-core machine a loop serving 40k
// connections/s sees a frame every 12 us or so, and 50 us caught the bursts (README).
inline constexpr Duration kAutoBusyPollWindow = microseconds(50);

// The stack's IPv4 address when no --address names one.
inline constexpr Ipv4Subnet kDefaultAddress{{0xc6120002}, 24};  // 198.18.0.2/24

// What the demo listener does with each connection (--demo-mode).
enum class DemoMode { kClose, kEcho, kDiscard };

struct DaemonOptions {
  std::string tap = "tapstack0";
  // --address, once for IPv4 (unset: kDefaultAddress) and once for each IPv6 prefix.
  std::optional<Ipv4Subnet> address;
  std::vector<Ipv6Subnet> ipv6_addresses;  // the link-local address comes from the MAC
  std::optional<MacAddress> mac;           // unset: mac_for_tap(tap)
  // --gateway, at most once per family.
  std::optional<Ipv4Address> gateway;
  std::optional<Ipv6Address> ipv6_gateway;
  std::optional<MacAddress> gateway_mac;  // a permanent ARP entry for the IPv4 gateway
  uint16_t mtu = 1500;
  std::string grpc_listen = "127.0.0.1:50051";
  std::string metrics_listen = "127.0.0.1:9464";  // "off" disables the exporter
  std::string grpc_tls_cert;
  std::string grpc_tls_key;
  std::string grpc_client_ca;
  TunableConfig tunable;
  uint32_t backlog = 128;  // Listen's default, and the demo listener's
  size_t max_endpoints = 65536;
  size_t max_time_wait = EngineConfig{}.max_time_wait;
  size_t max_half_open = EngineConfig{}.max_half_open;
  size_t max_orphans = EngineConfig{}.max_orphans;
  size_t send_buffer = EngineConfig{}.send_buffer;
  size_t receive_buffer = EngineConfig{}.receive_buffer;
  tcp::CongestionControlKind congestion_control = EngineConfig{}.congestion_control;
  std::optional<uint16_t> demo_listener;
  DemoMode demo_mode = DemoMode::kClose;
  LogLevel log_level = LogLevel::kInfo;
  // --busy-poll-us auto (the default): adaptive up to kAutoBusyPollWindow, unless the daemon
  // runs under a CPU quota (server/cpu_quota.h), then off; Daemon::start decides.
  link::LinkOptions link{.busy_poll = {kAutoBusyPollWindow, true}};
  bool busy_poll_auto = true;
  // Engine loops, one per TAP queue (server/shards.h).
  uint32_t queues = 1;
  bool kernel_cookies = true;         // the kernel cookie path (stack/link/cookie_path_program.h)
  uint32_t tap_queue_length = 10000;  // 0: the TAP's own
  bool tap_offloads = true;           // stack/link/vnet_header.h
  Duration shutdown_grace = seconds(2);
  // The control plane's limits (README, "The control plane under load").
  size_t grpc_max_calls = 1024;
  size_t grpc_max_calls_per_client = 256;
  size_t grpc_watch_buffer = 4 << 20;  // bytes of events all watchers share
  // Packet captures (server/capture_call.h): how many at once, and their rings' bytes in all.
  size_t max_captures = 4;
  size_t capture_memory = 64 << 20;
  Duration grpc_keepalive = seconds(30);
  Duration grpc_keepalive_timeout = seconds(10);
  Duration grpc_max_connection_idle = seconds(600);
  bool grpc_allow_insecure = false;
  Duration loop_stall_timeout = seconds(10);

  EngineConfig engine_config() const;
};

// The default MAC: 02 (locally administered, unicast) followed by the first five bytes of the
// 64-bit FNV-1a hash of the TAP name, so a daemon keeps its MAC across restarts and two
// daemons on differently named TAPs do not collide.
MacAddress mac_for_tap(std::string_view tap);

struct ParsedFlags {
  DaemonOptions options;
  bool help = false;
  std::string error;  // non-empty: the command line is wrong
};

ParsedFlags parse_flags(int argc, const char* const* argv);
std::string usage();

}  // namespace tapstack::server
