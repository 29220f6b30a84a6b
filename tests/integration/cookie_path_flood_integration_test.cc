// The kernel cookie path under floods, as tapstackd runs it: the program on the TAP's egress
// answers spoofed SYNs to a listener in cookie mode, and refuses forged cookie ACKs, before the
// TAP's queue, while kernel clients connect to that listener. Every client's connection completes
// without a single SYN retransmission (none of its segments waited behind the flood), the
// engine's tables stay bounded, and the program's counters account for every segment the flood
// sent: SYNs answered in the kernel, forged ACKs refused there with an RST, and never checked by
// the engine. At full rate and at 100k segments/s, for SYN floods, and for ACK floods to a
// listener in cookie mode (checked as cookies) and to one that is not (answered with RST).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>

#include "tests/integration/flood_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;
using tools::FloodKind;

constexpr uint16_t kPort = 7100;
constexpr uint32_t kBacklog = 16;  // SYN-RCVD table and accept queue alike
constexpr int kThreads = 2;
constexpr int kPortsPerThread = 6000;         // bounds each client thread's connections
constexpr uint16_t kFirstClientPort = 20000;  // below the kernel's ephemeral range
constexpr auto kFloodTime = 3s;
// Frames the TAP holds for the engine (txqueuelen) and its qdisc holds in front of it: what can
// reach the engine after the listener entered cookie mode, from before it.
constexpr uint64_t kQueuedFrames = 2 * 1000;

struct FloodCase {
  FloodKind kind;
  uint64_t rate;     // 0: as fast as the machine sends
  bool cookie_mode;  // the listener in cookie mode (a SYN flood puts it there itself)
};

std::string case_name(const ::testing::TestParamInfo<FloodCase>& param) {
  std::string kind = param.param.kind == FloodKind::kSyn ? "Syn" : "Ack";
  if (!param.param.cookie_mode) kind += "NoCookieMode";
  return kind +
         (param.param.rate == 0 ? "FullRate" : std::to_string(param.param.rate / 1000) + "k");
}

struct EngineCounters {
  uint64_t syns_received, syncookies_validated, syncookies_failed, passive_opens, resets_sent;
};

// What the clients did: each connected, sent a byte and waited for the engine to serve it.
struct ClientResults {
  std::vector<uint16_t> ports;  // every client's local port, once each
  std::vector<std::string> failures;
  size_t syn_retransmitted = 0;  // clients whose kernel sent its SYN more than once
};

class CookiePathFlood : public FloodTest, public ::testing::WithParamInterface<FloodCase> {
 protected:
  bool kernel_cookie_path() const override { return true; }

  EngineCounters engine_counters() {
    return loop_->call([](Engine& e) {
      const Stats& s = e.stats();
      return EngineCounters{s.syns_received.get(), s.syncookies_validated.get(),
                            s.syncookies_failed.get(), s.passive_opens.get(), s.resets_sent.get()};
    });
  }

  bool in_cookie_mode() const { return kernel_listener(kPort).mode == COOKIE_PATH_ON; }

  // The listener enters cookie mode by Linux's rule: spoofed SYNs fill its SYN-RCVD table (their
  // records wait 63 s for ACKs that never come, so it stays full past the test). The burst's
  // SYNs queued before the mode began are the engine's to answer: all of them are answered, by
  // one or the other, before the test counts what the flood costs.
  bool fill_syn_table() {
    tools::SynFloodConfig burst = flood_config(kPort);
    burst.max_packets = 10 * kBacklog;
    auto sent = tools::run_syn_flood(burst);
    EXPECT_TRUE(sent.is_ok()) << sent.status().message;
    if (!sent.is_ok()) return false;
    return events_.eventually([&] {
      return in_cookie_mode() && engine_counters().syns_received + kernel_listener(kPort).synacks >=
                                     sent.value().sent - sent.value().link_dropped;
    });
  }

  // Kernel clients on kThreads threads connect, send a byte and wait to be served, one after
  // another, until `done` (or each thread has used its ports).
  ClientResults run_clients(FloodAcceptor& acceptor, const std::atomic<bool>& done) {
    ClientResults results;
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPortsPerThread && !done.load(); ++i) {
          auto port = static_cast<uint16_t>(kFirstClientPort + t * kPortsPerThread + i);
          KernelSocket s;
          uint32_t syn_retransmits = 0;
          std::string failure = connect_and_send(s, port, kPort, &syn_retransmits);
          if (failure.empty() && !acceptor.accepted().wait_for(port, 20s)) {
            failure = "port " + std::to_string(port) + ": never accepted";
          }
          std::lock_guard lock(mutex);
          results.ports.push_back(port);
          results.syn_retransmitted += syn_retransmits > 0;
          if (!failure.empty()) results.failures.push_back(failure);
        }
      });
    }
    for (auto& t : threads) t.join();
    return results;
  }
};

TEST_P(CookiePathFlood, EveryClientConnectsAtOnceAndTheKernelAnswersTheFlood) {
  const FloodCase flood_case = GetParam();
  EndpointId listener = make_listener(kPort, kBacklog);
  if (flood_case.kind == FloodKind::kAck && flood_case.cookie_mode) {
    // Forged cookie ACKs are the kernel path's to check only for a listener in cookie mode.
    ASSERT_TRUE(fill_syn_table()) << "the listener never entered cookie mode";
  }
  const EngineCounters before = engine_counters();
  const cookie_path_listener kernel_before = kernel_listener(kPort);
  const uint64_t resets_before = cookie_path_->stats().resets;

  tools::SynFloodConfig setup = flood_config(kPort);
  setup.kind = flood_case.kind;
  setup.rate = flood_case.rate;
  setup.max_packets = 100'000'000;
  setup.max_duration = kFloodTime;
  std::atomic<bool> flood_done{false};
  std::optional<Result<tools::SynFloodReport>> flood;
  std::thread flooder([&] {
    flood.emplace(tools::run_syn_flood(setup));
    flood_done = true;
  });
  // A SYN flood puts the listener in cookie mode itself; the clients start from then on, or once
  // the program has refused the first forged ACK.
  bool flooding = events_.eventually([&] {
    return flood_case.cookie_mode ? in_cookie_mode() : kernel_listener(kPort).acks_refused > 0;
  });
  FloodAcceptor acceptor(*loop_, events_, listener);
  ClientResults clients;
  if (flooding) clients = run_clients(acceptor, flood_done);
  flooder.join();
  acceptor.stop();

  ASSERT_TRUE(flooding) << (flood_case.cookie_mode ? "the listener never entered cookie mode"
                                                   : "the program never refused an ACK");
  EXPECT_EQ(in_cookie_mode(), flood_case.cookie_mode);
  ASSERT_TRUE(flood->is_ok()) << flood->status().message;
  const tools::SynFloodReport& sent = **flood;
  const EngineCounters c = engine_counters();
  const cookie_path_listener k = kernel_listener(kPort);
  const uint64_t synacks = k.synacks - kernel_before.synacks;
  const uint64_t acks_refused = k.acks_refused - kernel_before.acks_refused;
  const uint64_t syns_to_engine = c.syns_received - before.syns_received;
  const uint64_t cookies_failed = c.syncookies_failed - before.syncookies_failed;
  const uint64_t engine_resets = c.resets_sent - before.resets_sent;
  const uint64_t n = clients.ports.size();
  std::printf(
      "[ flood    ] %s %llu sent in %.2f s (%.0f/s), %llu refused, %llu dropped by the TAP's "
      "queue; kernel path: %llu SYN-ACKs, %llu ACKs refused, %llu passed; engine: %llu SYNs, %llu "
      "cookies failed; %llu clients, %zu failed, %zu retransmitted their SYN\n",
      flood_case.kind == FloodKind::kSyn ? "SYNs" : "ACKs",
      static_cast<unsigned long long>(sent.sent),
      std::chrono::duration<double>(sent.elapsed).count(), sent.packets_per_second(),
      static_cast<unsigned long long>(sent.refused),
      static_cast<unsigned long long>(sent.link_dropped), static_cast<unsigned long long>(synacks),
      static_cast<unsigned long long>(acks_refused),
      static_cast<unsigned long long>(k.acks_passed - kernel_before.acks_passed),
      static_cast<unsigned long long>(syns_to_engine),
      static_cast<unsigned long long>(cookies_failed), static_cast<unsigned long long>(n),
      clients.failures.size(), clients.syn_retransmitted);

  // Every legitimate connection completed, once, with its first SYN: the flood cost the
  // clients nothing, not one retransmission.
  EXPECT_GE(n, 2u * kThreads) << "too few clients connected while the flood ran";
  EXPECT_TRUE(clients.failures.empty())
      << clients.failures.size() << " failed, first " << clients.failures.front();
  EXPECT_EQ(clients.syn_retransmitted, 0u) << "clients that retransmitted their SYN";
  EXPECT_EQ(acceptor.accepted().snapshot(),
            std::multiset<uint16_t>(clients.ports.begin(), clients.ports.end()));
  // The engine made every connection, and none from a forged ACK: from the cookie ACKs the
  // kernel passed on, or out of cookie mode from its half-open records.
  EXPECT_EQ(c.passive_opens - before.passive_opens, n);
  if (flood_case.cookie_mode) {
    EXPECT_EQ(c.syncookies_validated - before.syncookies_validated, n);
    EXPECT_GE(k.acks_passed - kernel_before.acks_passed, n);
  } else {
    EXPECT_EQ(c.syncookies_validated - before.syncookies_validated, 0u);
    EXPECT_EQ(synacks, 0u);
    EXPECT_EQ(syns_to_engine, n) << "out of cookie mode the engine answers every SYN";
  }
  // The engine's memory stays bounded: the half-open records that filled the table and the
  // clients' connections, whatever the flood's size.
  EXPECT_LE(acceptor.max_half_open(), kBacklog);
  EXPECT_LE(acceptor.max_endpoints(), 1 + n);
  EXPECT_TRUE(events_.eventually([&] {
    return loop_->call([](Engine& e) { return e.endpoint_count(); }) == 1;
  })) << "only the listener is left once the served connections are released";

  if (flood_case.kind == FloodKind::kSyn) {
    // Every SYN the TAP took (the flood's and the clients') was answered once: by the kernel
    // path, or by the engine, which saw only what was queued before cookie mode began.
    EXPECT_LE(synacks + syns_to_engine, sent.sent + n);
    EXPECT_GE(synacks + syns_to_engine + sent.link_dropped, sent.sent + n);
    EXPECT_LE(syns_to_engine, kBacklog + kQueuedFrames);
    EXPECT_EQ(cookies_failed, 0u);
  } else {
    // Every forged ACK was refused with an RST: by the kernel path, or by the engine for the
    // few that share a slot of the live-tuple counts with one of its records (a few thousand
    // records at most among 2^20 slots), never accepted.
    EXPECT_LE(acks_refused, sent.sent);
    EXPECT_GE(acks_refused + engine_resets + sent.link_dropped, sent.sent);
    EXPECT_LE(engine_resets, sent.sent / 200);
    EXPECT_LE(cookies_failed, engine_resets);
    EXPECT_GE(cookie_path_->stats().resets - resets_before, acks_refused);
    if (flood_case.cookie_mode) {
      // The clients' SYNs were answered once each, in cookie mode: in the kernel, or by the
      // engine for the few whose slot an earlier client's record still held.
      EXPECT_EQ(synacks + syns_to_engine, n);
      EXPECT_LE(syns_to_engine, n / 100);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Floods, CookiePathFlood,
                         ::testing::Values(FloodCase{FloodKind::kSyn, 0, true},
                                           FloodCase{FloodKind::kSyn, 100'000, true},
                                           FloodCase{FloodKind::kAck, 0, true},
                                           FloodCase{FloodKind::kAck, 100'000, true},
                                           FloodCase{FloodKind::kAck, 0, false},
                                           FloodCase{FloodKind::kAck, 100'000, false}),
                         case_name);

}  // namespace
}  // namespace tapstack::testing
