// tapstack_synflood: the SYN-flood generator as a command (see syn_flood.h), or with --ack a
// spoofed ACK flood. Run it inside the engine's network namespace, e.g.
//   ip netns exec NS tapstack_synflood --interface tap1 --dst-ip 198.18.1.2 --dst-port 80
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "stack/random.h"
#include "tests/tools/syn_flood.h"
#include "tests/tools/tool_options.h"

namespace {

using tapstack::tools::SynFloodConfig;

constexpr const char* kUsage =
    R"(Usage: tapstack_synflood --interface NAME --dst-ip ADDRESS [options]

Sends Linux-like SYNs (MSS 1460, SACK-permitted, timestamps, window scale 7) with random
sources, ports and sequence numbers through an AF_PACKET socket on NAME, the kernel side of
the engine's TAP. Runs only inside a network namespace of its own: use `ip netns exec NS`
(tests/integration/in_netns.sh makes one). Every address must be inside 198.18.0.0/15.
The frames take the kernel's ordinary transmit path (tc egress programs such as the kernel
cookie path, then the qdisc), as frames routed to the TAP do. A SYN the TAP refuses (its queue
full, or a filter's drop) is lost, as on a wire; the next is new.
With --ack it sends bare ACKs (NOP, NOP, timestamps) with random sequence and acknowledgment
numbers and timestamps from the same random sources instead: forged cookie ACKs.

  --ack                 send spoofed bare ACKs instead of SYNs
  --interface NAME      interface to send on (must exist in this namespace)
  --dst-ip ADDRESS      the engine's IPv4 address
  --dst-mac MAC         the engine's MAC (default 02:00:00:00:00:02)
  --dst-port PORT       the listener's port (default 80)
  --src-prefix A.B.C.D/N  spoofed sources, off-link for the engine (default 198.19.0.0/16)
  --count N             stop after offering N segments (default 100000)
  --duration SECONDS    stop after this long (default 10)
  --rate PPS            at most PPS segments per second (default 0: as fast as possible)
  --batch N             segments per sendmmsg call, 1..1024 (default 64)
  --seed N              seed of the random sources (default: from the kernel)
  --help                this text
)";

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// Applies one `--name value` pair; false if the name is unknown or the value malformed.
bool apply(SynFloodConfig& c, std::string_view name, std::string_view value) {
  if (name == "--interface") {
    c.interface = value;
    return !value.empty();
  }
  if (name == "--dst-ip") {
    auto a = tapstack::Ipv4Address::parse(value);
    if (a) c.destination = *a;
    return a.has_value();
  }
  if (name == "--dst-mac") {
    auto m = tapstack::MacAddress::parse(value);
    if (m) c.destination_mac = *m;
    return m.has_value();
  }
  if (name == "--src-prefix") {
    auto s = tapstack::Ipv4Subnet::parse(value);
    if (s) c.sources = *s;
    return s.has_value();
  }
  if (name == "--dst-port") {
    auto p = parse_number<uint16_t>(value);
    if (p) c.destination_port = *p;
    return p.has_value() && *p != 0;
  }
  if (name == "--duration") {
    auto s = parse_number<uint32_t>(value);
    if (s) c.max_duration = tapstack::seconds(*s);
    return s.has_value();
  }
  std::optional<uint64_t> n = parse_number<uint64_t>(value);
  if (!n) return false;
  if (name == "--count") {
    c.max_packets = *n;
  } else if (name == "--rate") {
    c.rate = *n;
  } else if (name == "--batch") {
    c.batch = static_cast<uint32_t>(std::min<uint64_t>(*n, UINT32_MAX));
  } else if (name == "--seed") {
    c.seed = *n;
  } else {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  SynFloodConfig config;
  config.seed = tapstack::Random::system_seed();
  bool have_destination = false;
  auto apply_option = [&](std::string_view name, std::string_view value) {
    have_destination |= name == "--dst-ip";
    return apply(config, name, value);
  };
  auto is_switch = [&](std::string_view name) {
    if (name != "--ack") return false;
    config.kind = tapstack::tools::FloodKind::kAck;
    return true;
  };
  if (auto stop = tapstack::tools::parse_options(argc, argv, "tapstack_synflood", kUsage,
                                                 apply_option, is_switch)) {
    return *stop;
  }
  if (config.interface.empty() || !have_destination) {
    std::fprintf(stderr, "tapstack_synflood: --interface and --dst-ip are required\n\n%s", kUsage);
    return 2;
  }
  auto report = tapstack::tools::run_syn_flood(config);
  if (!report.is_ok()) {
    std::fprintf(stderr, "tapstack_synflood: %s\n", report.status().message.c_str());
    return 1;
  }
  const char* what = config.kind == tapstack::tools::FloodKind::kAck ? "ACKs" : "SYNs";
  std::printf(
      "offered %llu %s in %.3f s: %.0f %s/s; the TAP took %llu (%.0f/s) and refused "
      "%llu; its queue dropped %llu\n",
      static_cast<unsigned long long>(report->sent + report->refused), what,
      std::chrono::duration<double>(report->elapsed).count(), report->offered_per_second(), what,
      static_cast<unsigned long long>(report->sent), report->packets_per_second(),
      static_cast<unsigned long long>(report->refused),
      static_cast<unsigned long long>(report->link_dropped));
  return 0;
}
