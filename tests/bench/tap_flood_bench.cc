// The engine on a real TAP under a SYN flood: an EngineLoop with an always-cookies listener, and
// the flood generator (tests/tools/syn_flood.h) pushing SYNs from spoofed off-link sources as
// fast as the kernel takes them. Prints what was sent, what the engine read and answered, and
// the process's resident memory before, after and at its peak. Not a test: run it as
//   tests/integration/in_netns.sh build/tests/tap_flood_bench [--count N] [--seconds S]
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "stack/engine_loop.h"
#include "tests/integration/netns_fixture.h"
#include "tests/tools/syn_flood.h"

namespace tapstack::bench {
namespace {

constexpr const char* kTap = "tflood0";
constexpr const char* kKernelAddress = "198.18.100.1";
constexpr const char* kEngineAddress = "198.18.100.2";
constexpr uint16_t kPort = 80;

// A "Name:   123 kB" line of /proc/self/status, in kB.
uint64_t proc_status_kb(std::string_view name) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(name) && line.size() > name.size() && line[name.size()] == ':') {
      return std::strtoull(line.c_str() + name.size() + 1, nullptr, 10);
    }
  }
  return 0;
}

uint64_t tap_tx_dropped() {
  std::ifstream f(std::string("/sys/class/net/") + kTap + "/statistics/tx_dropped");
  uint64_t n = 0;
  f >> n;
  return n;
}

struct Sample {
  uint64_t frames_received, syns_received, syncookies_sent, link_write_errors;
  std::chrono::steady_clock::time_point at;
};

Sample sample(EngineLoop& loop) {
  return loop.call([](Engine& e) {
    const Stats& s = e.stats();
    return Sample{s.frames_received.get(), s.syns_received.get(), s.syncookies_sent.get(),
                  s.link_write_errors.get(), std::chrono::steady_clock::now()};
  });
}

// Waits until the engine has read everything the TAP queued: a command runs after at most
// one batch of frames, so two round trips with no frame read between them mean it is idle.
Sample drain(EngineLoop& loop) {
  Sample last = sample(loop);
  for (int i = 0; i < 100'000; ++i) {
    Sample next = sample(loop);
    if (next.frames_received == last.frames_received) return next;
    last = next;
  }
  return last;
}

bool parse_flag(std::string_view arg, std::string_view name, uint64_t& out) {
  if (!arg.starts_with(name) || arg.size() <= name.size() || arg[name.size()] != '=') return false;
  std::string_view v = arg.substr(name.size() + 1);
  return std::from_chars(v.data(), v.data() + v.size(), out).ec == std::errc{};
}

int run(int argc, char** argv) {
  uint64_t count = 10'000'000;
  uint64_t secs = 120;
  uint64_t batch = 64;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (!parse_flag(a, "--count", count) && !parse_flag(a, "--seconds", secs) &&
        !parse_flag(a, "--batch", batch)) {
      std::fprintf(stderr,
                   "usage: in_netns.sh tap_flood_bench [--count=N (10000000)] "
                   "[--seconds=S (120)] [--batch=N (64)]\n");
      return 2;
    }
  }
  if (Status ns = tools::require_own_network_namespace(); !ns.is_ok()) {
    std::fprintf(stderr, "tap_flood_bench: %s\n", ns.message.c_str());
    return 1;
  }
  auto tap = link::TapDevice::open(kTap);
  if (!tap.is_ok()) {
    std::fprintf(stderr, "tap_flood_bench: %s\n", tap.status().message.c_str());
    return 1;
  }
  std::string add = std::string("ip addr replace ") + kKernelAddress + "/24 dev " + kTap;
  if (std::system(add.c_str()) != 0) return 1;

  EngineConfig config;
  config.address = {*Ipv4Address::parse(kEngineAddress), 24};
  config.gateway = Ipv4Address::parse(kKernelAddress);  // where SYN-ACKs to spoofed sources go
  config.tunable.syncookies = tcp::SynCookieMode::kAlways;
  EngineLoop loop(config, std::move(tap.value()), tcp::KeySource::system());
  loop.start();
  loop.call([](Engine& e) {
    EndpointId id = *e.create_endpoint();
    return e.bind(id, {}, kPort).is_ok() && e.listen(id, 128).is_ok();
  });
  // One kernel connection first: it resolves ARP both ways, so no SYN-ACK waits for it.
  testing::KernelSocket probe;
  probe.set_timeout(std::chrono::seconds(5));
  if (!probe.connect_to(kEngineAddress, kPort)) {
    std::fprintf(stderr, "tap_flood_bench: the engine did not answer a kernel connect\n");
    return 1;
  }

  tools::SynFloodConfig flood;
  flood.interface = kTap;
  flood.destination_mac = config.mac;
  flood.destination = config.address.address;
  flood.destination_port = kPort;
  flood.max_packets = count;
  flood.max_duration = std::chrono::seconds(secs);
  flood.batch = static_cast<uint32_t>(batch);
  flood.seed = Random::system_seed();
  flood.resend_refused = true;  // every SYN is to reach the engine: its read rate is measured
  flood.bypass_qdisc = true;    // so that every refusal is reported and the SYN offered again

  uint64_t rss_before = proc_status_kb("VmRSS");
  uint64_t dropped_before = tap_tx_dropped();
  Sample before = sample(loop);
  auto report = tools::run_syn_flood(flood);
  Sample after = drain(loop);
  uint64_t rss_after = proc_status_kb("VmRSS");
  uint64_t rss_peak = proc_status_kb("VmHWM");
  loop.stop();
  if (!report.is_ok()) {
    std::fprintf(stderr, "tap_flood_bench: %s\n", report.status().message.c_str());
    return 1;
  }

  double engine_secs = std::chrono::duration<double>(after.at - before.at).count();
  auto delta = [](uint64_t a, uint64_t b) { return static_cast<unsigned long long>(b - a); };
  std::printf("%-44s %15s\n", "tap_flood_bench (always-cookie listener)", "value");
  std::printf("%-44s %15llu\n", "SYNs sent by the generator",
              static_cast<unsigned long long>(report->sent));
  std::printf("%-44s %15.3f\n", "generator time (s)",
              std::chrono::duration<double>(report->elapsed).count());
  std::printf("%-44s %15.0f\n", "generator rate (SYNs/s)", report->packets_per_second());
  std::printf("%-44s %15llu\n", "TAP queue full: SYNs refused, then resent",
              delta(dropped_before, tap_tx_dropped()));
  std::printf("%-44s %15llu\n", "frames the engine read",
              delta(before.frames_received, after.frames_received));
  std::printf("%-44s %15llu\n", "SYNs that reached the listener",
              delta(before.syns_received, after.syns_received));
  std::printf("%-44s %15llu\n", "cookie SYN-ACKs sent",
              delta(before.syncookies_sent, after.syncookies_sent));
  std::printf("%-44s %15.0f\n", "cookie SYN-ACKs per second (engine)",
              static_cast<double>(after.syncookies_sent - before.syncookies_sent) / engine_secs);
  std::printf("%-44s %15llu\n", "SYN-ACKs the TAP refused",
              delta(before.link_write_errors, after.link_write_errors));
  std::printf("%-44s %15llu\n", "VmRSS before (kB)", static_cast<unsigned long long>(rss_before));
  std::printf("%-44s %15llu\n", "VmRSS after (kB)", static_cast<unsigned long long>(rss_after));
  std::printf("%-44s %15llu\n", "VmHWM, peak (kB)", static_cast<unsigned long long>(rss_peak));
  return 0;
}

}  // namespace
}  // namespace tapstack::bench

int main(int argc, char** argv) {
  return tapstack::bench::run(argc, argv);
}
