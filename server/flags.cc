#include "server/flags.h"

#include <charconv>
#include <functional>
#include <vector>

#include "server/tunables.h"

namespace tapstack::server {
namespace {

using Error = std::optional<std::string>;

std::optional<uint64_t> parse_uint(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// Parses an integer flag value into `out` within [min, max].
template <class T>
Error set_uint(std::string_view flag, std::string_view text, uint64_t min, uint64_t max, T& out) {
  auto v = parse_uint(text);
  if (!v) return std::string(flag) + " needs a number, not '" + std::string(text) + "'";
  if (auto e = check_range(flag, *v, min, max)) return e;
  out = static_cast<T>(*v);
  return std::nullopt;
}

// Parses an on|off flag value into `out`.
Error set_on_off(std::string_view flag, std::string_view text, bool& out) {
  if (text != "on" && text != "off") return std::string(flag) + " must be on or off";
  out = text == "on";
  return std::nullopt;
}

// --address: the IPv4 address (once) or one more IPv6 address.
Error add_address(DaemonOptions& o, std::string_view v) {
  const std::string text(v);
  if (v.find(':') == std::string_view::npos) {
    auto subnet = Ipv4Subnet::parse(v);
    if (!subnet || subnet->prefix == 0 || subnet->prefix > 30 || subnet->address.is_unspecified() ||
        subnet->address.is_multicast_or_broadcast() || subnet->address == subnet->broadcast()) {
      return "--address needs a unicast A.B.C.D/N with N in 1..30, not '" + text + "'";
    }
    if (o.address) {
      return "--address takes one IPv4 address; " + text + " would be a second beside " +
             o.address->to_string();
    }
    o.address = *subnet;
    return std::nullopt;
  }
  auto subnet = Ipv6Subnet::parse(v);
  if (!subnet || subnet->prefix == 0) {
    return "--address needs an IPv6 address with a prefix length 1..128 (e.g. "
           "2001:db8::2/64), not '" +
           text + "'";
  }
  const Ipv6Address& a = subnet->address;
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_v4_mapped()) {
    return "--address " + text + " is not a unicast IPv6 address";
  }
  if (a.is_link_local()) {
    return "--address " + text +
           " is link-local: the stack's link-local address comes from its MAC (--mac)";
  }
  for (const Ipv6Subnet& other : o.ipv6_addresses) {
    if (other.address == a) return "--address " + a.to_string() + " is given twice";
  }
  o.ipv6_addresses.push_back(*subnet);
  return std::nullopt;
}

// --gateway: at most one per family; whether it is on a subnet is checked once all flags are
// read (check_combinations).
Error set_gateway(DaemonOptions& o, std::string_view v) {
  auto gw = IpAddress::parse(v);
  if (!gw) return "--gateway needs an IPv4 or IPv6 address, not '" + std::string(v) + "'";
  if (gw->is_v4()) {
    if (o.gateway) return "--gateway takes one IPv4 router; " + std::string(v) + " is a second";
    o.gateway = gw->v4();
    return std::nullopt;
  }
  const Ipv6Address& a = gw->v6;
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast()) {
    return "--gateway " + std::string(v) + " is not a unicast IPv6 address";
  }
  if (o.ipv6_gateway) return "--gateway takes one IPv6 router; " + std::string(v) + " is a second";
  o.ipv6_gateway = a;
  return std::nullopt;
}

struct Flag {
  std::string_view name;
  std::string_view value;  // what the argument is called in --help; empty for a switch
  std::string_view help;
  std::function<Error(DaemonOptions&, std::string_view)> set;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"tap", "NAME",
       "TAP device to attach to; created (and removed again on exit) if it does not exist. "
       "Default tapstack0.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         if (v.empty() || v.size() > 15) return "--tap must be 1-15 characters";
         o.tap = v;
         return std::nullopt;
       }},
      {"address", "A.B.C.D/N|IPV6/N",
       "One of the stack's addresses with its prefix; give it once for the IPv4 address and "
       "once for each IPv6 address (e.g. --address 198.18.0.2/24 --address 2001:db8::2/64). "
       "The IPv6 link-local address comes from the MAC and is always there. IPv6 addresses "
       "need --queues 1 for now. Default 198.18.0.2/24 (IPv4 only).",
       add_address},
      {"mac", "XX:XX:XX:XX:XX:XX",
       "The stack's MAC. Default: 02 followed by five bytes of the FNV-1a hash of the TAP "
       "name (stable across restarts, locally administered).",
       [](DaemonOptions& o, std::string_view v) -> Error {
         auto mac = MacAddress::parse(v);
         if (!mac || mac->is_multicast())
           return "--mac needs a unicast MAC, not '" + std::string(v) + "'";
         o.mac = *mac;
         return std::nullopt;
       }},
      {"gateway", "A.B.C.D|IPV6",
       "Next hop for addresses outside the subnets, at most once per family: the IPv4 one "
       "inside the IPv4 --address, the IPv6 one link-local or inside an IPv6 --address. "
       "Default: none.",
       set_gateway},
      {"gateway-mac", "XX:XX:XX:XX:XX:XX",
       "The gateway's MAC as a permanent ARP entry: never resolved, never overwritten by ARP "
       "packets, never expires. Needs an IPv4 --gateway. Default: resolved by ARP.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         auto mac = MacAddress::parse(v);
         if (!mac || mac->is_multicast() || *mac == MacAddress{})
           return "--gateway-mac needs a unicast MAC, not '" + std::string(v) + "'";
         o.gateway_mac = *mac;
         return std::nullopt;
       }},
      {"mtu", "BYTES", "Link MTU, 576..9000. Default 1500.",
       [](DaemonOptions& o, std::string_view v) { return set_uint("--mtu", v, 576, 9000, o.mtu); }},
      {"grpc-listen", "HOST:PORT|unix:PATH", "Where the gRPC API listens. Default 127.0.0.1:50051.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         if (v.empty()) return "--grpc-listen must not be empty";
         o.grpc_listen = v;
         return std::nullopt;
       }},
      {"grpc-tls-cert", "FILE",
       "PEM certificate chain: serve gRPC over TLS (needs --grpc-tls-key).",
       [](DaemonOptions& o, std::string_view v) -> Error {
         o.grpc_tls_cert = v;
         return std::nullopt;
       }},
      {"grpc-tls-key", "FILE", "PEM private key of --grpc-tls-cert.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         o.grpc_tls_key = v;
         return std::nullopt;
       }},
      {"grpc-client-ca", "FILE",
       "PEM CA bundle: require gRPC clients to present a certificate it signed (mutual TLS).",
       [](DaemonOptions& o, std::string_view v) -> Error {
         o.grpc_client_ca = v;
         return std::nullopt;
       }},
      {"grpc-allow-insecure", "",
       "Serve gRPC without TLS on an address other than a unix socket or loopback. Without "
       "this flag tapstackd refuses to start so: anyone who reaches the port could drive the "
       "stack.",
       [](DaemonOptions& o, std::string_view) -> Error {
         o.grpc_allow_insecure = true;
         return std::nullopt;
       }},
      {"grpc-max-calls", "N",
       "gRPC calls in flight at once, all clients together (waiting calls and streams "
       "included), 1..100000; beyond it calls fail with RESOURCE_EXHAUSTED. Default 1024.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--grpc-max-calls", v, 1, 100'000, o.grpc_max_calls);
       }},
      {"grpc-max-calls-per-client", "N",
       "gRPC calls in flight at once per client (its certificate subject under mutual TLS, "
       "else its IP address; every unix-socket client is one), 1..100000; beyond it its calls "
       "fail with RESOURCE_EXHAUSTED. Health checks are never refused. Default 256.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--grpc-max-calls-per-client", v, 1, 100'000, o.grpc_max_calls_per_client);
       }},
      {"grpc-watch-buffer", "BYTES",
       "Memory for the events WatchEvents watchers have not read yet, shared by all of them, "
       "65536..1073741824; a watcher further behind is told how many events it lost. Default "
       "4194304.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--grpc-watch-buffer", v, 65536, 1u << 30, o.grpc_watch_buffer);
       }},
      {"max-captures", "N",
       "Packet captures (the Capture call, tapstackctl capture) running at once, 0..64; "
       "beyond it Capture fails with RESOURCE_EXHAUSTED. Default 4.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--max-captures", v, 0, 64, o.max_captures);
       }},
      {"capture-memory", "BYTES",
       "Memory for the rings of all captures together (each capture has one per engine loop, "
       "4 MiB unless it asks otherwise), 65536..4294967296; a capture that would go beyond it "
       "fails with RESOURCE_EXHAUSTED. Default 67108864.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--capture-memory", v, 65536, 1ull << 32, o.capture_memory);
       }},
      {"grpc-keepalive-ms", "MS",
       "Ping a gRPC client's connection after this long without traffic, 1000..7200000. "
       "Default 30000.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint32_t ms = 0;
         if (auto e = set_uint("--grpc-keepalive-ms", v, 1000, 7'200'000, ms)) return e;
         o.grpc_keepalive = milliseconds(ms);
         return std::nullopt;
       }},
      {"grpc-keepalive-timeout-ms", "MS",
       "Close the connection (ending its calls) when a ping gets no answer within this long, "
       "1000..600000. Default 10000.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint32_t ms = 0;
         if (auto e = set_uint("--grpc-keepalive-timeout-ms", v, 1000, 600'000, ms)) return e;
         o.grpc_keepalive_timeout = milliseconds(ms);
         return std::nullopt;
       }},
      {"grpc-max-connection-idle-ms", "MS",
       "Close a gRPC connection that has had no call for this long, 1000..86400000. Default "
       "600000.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint32_t ms = 0;
         if (auto e = set_uint("--grpc-max-connection-idle-ms", v, 1000, 86'400'000, ms)) return e;
         o.grpc_max_connection_idle = milliseconds(ms);
         return std::nullopt;
       }},
      {"loop-stall-timeout", "MS",
       "Health turns NOT_SERVING when the engine loop has not run a command for this long (a "
       "wedged loop; the liveness probe then restarts the daemon), 1000..600000. Default "
       "10000.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint32_t ms = 0;
         if (auto e = set_uint("--loop-stall-timeout", v, 1000, 600'000, ms)) return e;
         o.loop_stall_timeout = milliseconds(ms);
         return std::nullopt;
       }},
      {"metrics-listen", "HOST:PORT|off",
       "Where Prometheus scrapes /metrics. Default 127.0.0.1:9464; off disables it.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         if (v.empty()) return "--metrics-listen must not be empty (use off)";
         o.metrics_listen = v;
         return std::nullopt;
       }},
      {"syncookies", "never|auto|always",
       "SYN cookies: never; auto (when a listener's SYN queue is full, the default); always.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         auto mode = parse_syncookie_mode(v);
         if (!mode)
           return "--syncookies must be never, auto or always, not '" + std::string(v) + "'";
         o.tunable.syncookies = *mode;
         return std::nullopt;
       }},
      {"syn-retries", "N", "SYN retransmissions before Connect gives up, 1..127. Default 6.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--syn-retries", v, kMinSynRetries, kMaxSynRetries, o.tunable.syn_retries);
       }},
      {"synack-retries", "N",
       "SYN-ACK retransmissions before a half-open connection is dropped, 0..20. Default 5.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--synack-retries", v, 0, kMaxSynackRetries, o.tunable.synack_retries);
       }},
      {"abort-on-overflow", "",
       "Answer a final ACK that finds the accept queue full with RST instead of dropping it.",
       [](DaemonOptions& o, std::string_view) -> Error {
         o.tunable.abort_on_overflow = true;
         return std::nullopt;
       }},
      {"backlog", "N", "Accept-queue limit for Listen calls that give none, 1..65535. Default 128.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--backlog", v, 1, 65535, o.backlog);
       }},
      {"max-endpoints", "N", "Endpoint table size (listeners and connections). Default 65536.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--max-endpoints", v, 1, 1u << 24, o.max_endpoints);
       }},
      {"max-time-wait", "N",
       "TIME-WAIT records (Linux's tcp_max_tw_buckets), about 150 bytes each; they are not "
       "endpoints. Beyond it a closing connection skips TIME-WAIT (counted). Default 65536.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--max-time-wait", v, 0, 1u << 24, o.max_time_wait);
       }},
      {"max-half-open", "N",
       "Half-open (SYN-RCVD) records over all listeners, each listener's syn_backlog aside; "
       "beyond it SYNs get cookies. Default 65536.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--max-half-open", v, 1, 1u << 24, o.max_half_open);
       }},
      {"max-orphans", "N",
       "Closed connections still finishing their FIN exchange (Linux's tcp_max_orphans); they "
       "are not endpoints. Beyond it Close resets instead of sending FIN (counted). Default "
       "16384.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--max-orphans", v, 0, 1u << 24, o.max_orphans);
       }},
      {"send-buffer", "BYTES",
       "Per connection: bytes written and not yet acknowledged, 4096..67108864. Default 262144.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--send-buffer", v, 4096, 1u << 26, o.send_buffer);
       }},
      {"receive-buffer", "BYTES",
       "Per connection: bytes received and not yet read, which bounds the window we offer, "
       "4096..67108864. Default 131072.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--receive-buffer", v, 4096, 1u << 26, o.receive_buffer);
       }},
      {"congestion-control", "cubic|newreno",
       "Congestion control of every connection: cubic (RFC 9438, the default, as Linux) or "
       "newreno (RFC 5681, 6582).",
       [](DaemonOptions& o, std::string_view v) -> Error {
         auto kind = tcp::parse_congestion_control(v);
         if (!kind) {
           return "--congestion-control must be cubic or newreno, not '" + std::string(v) + "'";
         }
         o.congestion_control = *kind;
         return std::nullopt;
       }},
      {"demo-listener", "PORT",
       "At start, listen on [::]:PORT (both families, with --backlog) and keep accepting and "
       "gracefully closing every connection.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint16_t port = 0;
         if (auto e = set_uint("--demo-listener", v, 1, 65535, port)) return e;
         o.demo_listener = port;
         return std::nullopt;
       }},
      {"demo-mode", "close|echo|discard",
       "What the demo listener does with each connection: close it at once (gracefully), "
       "echo what it reads until the peer finishes, or read and drop it. Default close.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         if (v == "close") {
           o.demo_mode = DemoMode::kClose;
         } else if (v == "echo") {
           o.demo_mode = DemoMode::kEcho;
         } else if (v == "discard") {
           o.demo_mode = DemoMode::kDiscard;
         } else {
           return "--demo-mode must be close, echo or discard, not '" + std::string(v) + "'";
         }
         return std::nullopt;
       }},
      {"shutdown-grace", "MS",
       "On SIGTERM/SIGINT, how long to wait for closed connections' FINs to be acknowledged. "
       "Default 2000.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         uint32_t ms = 0;
         if (auto e = set_uint("--shutdown-grace", v, 0, 60'000, ms)) return e;
         o.shutdown_grace = milliseconds(ms);
         return std::nullopt;
       }},
      {"link-io", "auto|io_uring|epoll",
       "How the engine loop moves frames: io_uring (one system call per frame in and its "
       "answer out), epoll (read and write per frame), or auto: io_uring where the kernel and "
       "seccomp allow it, else epoll. Default auto.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         if (v == "auto") {
           o.link.kind = link::LinkKind::kAuto;
         } else if (v == "io_uring") {
           o.link.kind = link::LinkKind::kUring;
         } else if (v == "epoll") {
           o.link.kind = link::LinkKind::kEpoll;
         } else {
           return "--link-io must be auto, io_uring or epoll";
         }
         return std::nullopt;
       }},
      {"busy-poll-us", "auto|US",
       "After each frame or command, the engine loop keeps looking for the next one this many "
       "microseconds before it sleeps, 0..1000000, yielding the core to any thread that wants "
       "it: what comes in that window is handled without a thread wake-up. auto (the default) "
       "adapts the window, NAPI-style, between 5 and 50 us (halved after a spin that caught "
       "nothing, doubled after one that caught input), and is off when the daemon runs under a "
       "cgroup CPU quota (a Kubernetes CPU limit; v2 cpu.max or v1 cpu.cfs_quota_us), which a "
       "spin would spend. An idle loop sleeps. 0: sleep at once. (README, Busy polling.)",
       [](DaemonOptions& o, std::string_view v) -> Error {
         o.busy_poll_auto = v == "auto";
         if (o.busy_poll_auto) {
           o.link.busy_poll = {kAutoBusyPollWindow, true};
           return std::nullopt;
         }
         uint32_t us = 0;
         if (auto e = set_uint("--busy-poll-us", v, 0, 1'000'000, us)) return e;
         o.link.busy_poll = {microseconds(us), false};
         return std::nullopt;
       }},
      {"queues", "N",
       "Engine loops, each on its own queue of the TAP (opened with IFF_MULTI_QUEUE; a TAP made "
       "beforehand must be multi_queue) and each owning the connections its queue carries, "
       "shared-nothing; a steering program (CAP_BPF) sends every TCP flow to one queue. 1..64. "
       "Default 1 (one loop, no steering).",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--queues", v, 1, 64, o.queues);
       }},
      {"kernel-cookies", "on|off",
       "Answer SYNs to listeners in SYN-cookie mode, and check their cookie ACKs, in a tc BPF "
       "program on the TAP's egress, in the sender's context, so that a SYN flood never reaches "
       "the TAP's queue (README, Kernel cookie path). Needs CAP_BPF, CAP_NET_ADMIN and "
       "CAP_PERFMON; without them the daemon logs one warning and answers cookies itself. "
       "Default on.",
       [](DaemonOptions& o, std::string_view v) {
         return set_on_off("--kernel-cookies", v, o.kernel_cookies);
       }},
      {"tap-queue-length", "N",
       "Frames the TAP's queue holds for tapstackd before the kernel drops what comes (its "
       "txqueuelen; Linux's default is 1000): enough for the engine to be descheduled for a few "
       "milliseconds under load without a legitimate segment lost (README, Kernel cookie path). "
       "0 leaves the TAP's as it is. Default 10000.",
       [](DaemonOptions& o, std::string_view v) {
         return set_uint("--tap-queue-length", v, 0, 1000000, o.tap_queue_length);
       }},
      {"tap-offloads", "on|off",
       "Take the kernel's offloads on the TAP (IFF_VNET_HDR, TUNSETOFFLOAD): its TCP segments "
       "of up to 64 KiB (TSO, GRO) come as one frame, and checksums it left partial are "
       "completed here, as a NIC's are (README, Behaviour). Every program holding the TAP must "
       "agree: off for a TAP whose other holders read plain frames. Default on.",
       [](DaemonOptions& o, std::string_view v) {
         return set_on_off("--tap-offloads", v, o.tap_offloads);
       }},
      {"log-level", "error|warning|info|debug", "What to log on stderr. Default info.",
       [](DaemonOptions& o, std::string_view v) -> Error {
         auto level = parse_log_level(v);
         if (!level) return "--log-level must be error, warning, info or debug";
         o.log_level = *level;
         return std::nullopt;
       }},
  };
  return table;
}

// Word-wraps `text` to lines of at most `width` characters, each starting with `indent`.
std::string wrap(std::string_view text, std::string_view indent, size_t width) {
  std::string out;
  std::string line(indent);
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
    }
    if (line.size() > indent.size()) line += ' ';
    line += word;
  }
  return out + line + "\n";
}

// A unix socket or a loopback address: only this host can connect.
bool is_local_listen(std::string_view spec) {
  if (spec.starts_with("unix:")) return true;
  std::string_view host = spec.substr(0, spec.rfind(':'));
  if (host == "localhost" || host == "[::1]") return true;
  auto address = Ipv4Address::parse(host);
  return address && (address->value >> 24) == 127;
}

const Flag* find_flag(std::string_view name) {
  for (const Flag& f : flags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The IPv6 router must be a neighbour: link-local, or on one of the IPv6 subnets.
Error check_ipv6_gateway(const DaemonOptions& o) {
  if (!o.ipv6_gateway) return std::nullopt;
  const std::string gw = o.ipv6_gateway->to_string();
  if (o.ipv6_addresses.empty()) {
    return "--gateway " + gw + " routes nothing without an IPv6 --address";
  }
  bool on_link = o.ipv6_gateway->is_link_local();
  for (const Ipv6Subnet& subnet : o.ipv6_addresses) {
    if (subnet.address == *o.ipv6_gateway) return "--gateway " + gw + " is this stack's address";
    on_link = on_link || subnet.contains(*o.ipv6_gateway);
  }
  if (!on_link) {
    return "--gateway " + gw + " is neither link-local nor inside an IPv6 --address";
  }
  return std::nullopt;
}

// Settings that only make sense together.
Error check_combinations(const DaemonOptions& o) {
  if (o.grpc_tls_cert.empty() != o.grpc_tls_key.empty()) {
    return "--grpc-tls-cert and --grpc-tls-key go together";
  }
  if (!o.grpc_client_ca.empty() && o.grpc_tls_cert.empty()) {
    return "--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key";
  }
  if (o.grpc_tls_cert.empty() && !o.grpc_allow_insecure && !is_local_listen(o.grpc_listen)) {
    return "--grpc-listen " + o.grpc_listen +
           " is reachable from other hosts and has no TLS: give --grpc-tls-cert and "
           "--grpc-tls-key (and --grpc-client-ca to require client certificates), listen on "
           "loopback or unix:PATH, or pass --grpc-allow-insecure";
  }
  if (o.gateway_mac && !o.gateway) {
    return "--gateway-mac needs --gateway with an IPv4 router (it is an ARP entry)";
  }
  if (!o.address && !o.ipv6_addresses.empty()) {
    return "--address " + o.ipv6_addresses.front().to_string() +
           " needs an IPv4 --address beside it: the stack always has one IPv4 address";
  }
  const Ipv4Subnet address = o.address.value_or(kDefaultAddress);
  if (o.gateway && !address.contains(*o.gateway)) {
    return "--gateway " + o.gateway->to_string() + " is not inside --address " +
           address.to_string();
  }
  if (auto e = check_ipv6_gateway(o)) return e;
  if (o.queues > 1 && !o.ipv6_addresses.empty()) {
    return "--address " + o.ipv6_addresses.front().to_string() +
           " needs --queues 1 for now: the TAP's steering program steers IPv4 only, so IPv6 "
           "connections would not reach the loops that own them";
  }
  return std::nullopt;
}

}  // namespace

EngineConfig DaemonOptions::engine_config() const {
  EngineConfig config;
  config.mac = mac.value_or(mac_for_tap(tap));
  config.address = address.value_or(kDefaultAddress);
  config.ipv6_addresses = ipv6_addresses;
  config.gateway = gateway;
  config.ipv6_gateway = ipv6_gateway;
  config.gateway_mac = gateway_mac;
  config.mtu = mtu;
  config.segmentation_offload = tap_offloads;
  config.tunable = tunable;
  config.max_endpoints = max_endpoints;
  config.max_time_wait = max_time_wait;
  config.max_half_open = max_half_open;
  config.max_orphans = max_orphans;
  config.send_buffer = send_buffer;
  config.receive_buffer = receive_buffer;
  config.congestion_control = congestion_control;
  return config;
}

MacAddress mac_for_tap(std::string_view tap) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (char c : tap) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  MacAddress mac{{0x02, 0, 0, 0, 0, 0}};
  for (size_t i = 1; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(hash >> (64 - 8 * i));
  return mac;
}

ParsedFlags parse_flags(int argc, const char* const* argv) {
  ParsedFlags out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      return out;
    }
    if (!arg.starts_with("--")) {
      out.error = "unexpected argument '" + std::string(arg) + "'";
      return out;
    }
    arg.remove_prefix(2);
    std::optional<std::string_view> value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const Flag* flag = find_flag(arg);
    if (!flag) {
      out.error = "unknown flag --" + std::string(arg);
      return out;
    }
    if (flag->value.empty()) {
      if (value) {
        out.error = "--" + std::string(arg) + " takes no value";
        return out;
      }
    } else if (!value) {
      if (i + 1 >= argc) {
        out.error = "--" + std::string(arg) + " needs a value (" + std::string(flag->value) + ")";
        return out;
      }
      value = argv[++i];
    }
    if (Error e = flag->set(out.options, value.value_or(""))) {
      out.error = *e;
      return out;
    }
  }
  if (Error e = check_combinations(out.options)) out.error = *e;
  return out;
}

std::string usage() {
  std::string text =
      "Usage: tapstackd [FLAGS]\n"
      "A userspace TCP stack on a Linux TAP device, controlled over gRPC (tapstack.v1) and\n"
      "observed through Prometheus metrics. Runs until SIGTERM or SIGINT, then closes its\n"
      "listeners and connections and exits 0. Needs CAP_NET_ADMIN for the TAP.\n\nFlags:\n";
  for (const Flag& f : flags()) {
    std::string head = "  --";
    head += f.name;
    if (!f.value.empty()) {
      head += ' ';
      head += f.value;
    }
    text += head;
    text += '\n';
    text += wrap(f.help, "      ", 80);
  }
  text += "  --help\n      Show this help.\n";
  return text;
}

}  // namespace tapstack::server
