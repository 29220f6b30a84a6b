// The engine under a SYN flood from spoofed off-link sources (tests/tools/syn_flood.h) while the
// kernel connects as legitimate clients: every legitimate connect succeeds through SYN cookies,
// the SYN-RCVD and endpoint tables stay bounded, and the listen counters agree with each other.
// Twice: with the kernel cookie path answering the cookie SYNs before the TAP's queue, as
// tapstackd runs by default, and with the engine answering every one itself (--kernel-cookies off).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>

#include "tests/integration/flood_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kPort = 7000;
constexpr uint32_t kBacklog = 16;             // SYN-RCVD table and accept queue alike
constexpr uint16_t kFirstClientPort = 20000;  // below the kernel's ephemeral range

// The listen counters, read on the loop thread so that they describe one instant.
struct ListenCounters {
  uint64_t syns_received, synacks_sent, synack_retransmits, syn_queue_full, syncookies_sent,
      syncookies_validated, accept_queue_full_syn_drops, accept_queue_full_ack_drops,
      syn_queue_full_drops, passive_opens, frames_received;
};

// GetParam(): with the kernel cookie path attached.
class SynFlood : public FloodTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool kernel_cookie_path() const override { return GetParam(); }

  ListenCounters counters() {
    return loop_->call([](Engine& e) {
      const Stats& s = e.stats();
      return ListenCounters{s.syns_received.get(),
                            s.synacks_sent.get(),
                            s.synack_retransmits.get(),
                            s.syn_queue_full.get(),
                            s.syncookies_sent.get(),
                            s.syncookies_validated.get(),
                            s.accept_queue_full_syn_drops.get(),
                            s.accept_queue_full_ack_drops.get(),
                            s.dropped(DropReason::syn_queue_full),
                            s.passive_opens.get(),
                            s.frames_received.get()};
    });
  }
  // Cookie SYN-ACKs the kernel cookie path sent for the listener (0 without it).
  uint64_t kernel_synacks() const { return kernel_listener(kPort).synacks; }
};

TEST_P(SynFlood, LegitimateClientsAllConnectThroughTheFlood) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr size_t kClients = kThreads * kPerThread;
  EndpointId listener = make_listener(kPort, kBacklog);

  // The flood runs until the clients are done (or its bounds): every client meets it.
  std::atomic<bool> stop_flood{false};
  std::optional<Result<tools::SynFloodReport>> flood;
  tools::SynFloodConfig flood_setup = flood_config(kPort);
  flood_setup.max_packets = 50'000'000;
  flood_setup.max_duration = 10s;
  std::thread flooder([&] { flood.emplace(tools::run_syn_flood(flood_setup, &stop_flood)); });
  // The clients start once the flood has filled the SYN-RCVD table: from then on (the spoofed
  // records wait 63 s for ACKs that never come) every SYN is answered with a cookie.
  bool table_full = events_.eventually([&] { return loop_->stats().syn_queue_full.get() > 0; });

  FloodAcceptor acceptor(*loop_, events_, listener);
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::atomic<size_t> retransmitted{0};
  std::vector<std::thread> clients;
  if (table_full) {
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto port = static_cast<uint16_t>(kFirstClientPort + t * kPerThread + i);
          KernelSocket s;
          uint32_t syn_retransmits = 0;
          // Kept open until served, so at most kThreads connections wait at a time and the
          // accept queue (kBacklog) can never be what turns a SYN away.
          std::string failure = connect_and_send(s, port, kPort, &syn_retransmits);
          retransmitted += syn_retransmits > 0;
          if (failure.empty() && !acceptor.accepted().wait_for(port, 20s)) {
            failure = "port " + std::to_string(port) + ": never accepted";
          }
          if (failure.empty()) continue;
          std::lock_guard lock(failures_mutex);
          failures.push_back(failure);
        }
      });
    }
  }
  for (auto& c : clients) c.join();
  stop_flood = true;
  flooder.join();
  acceptor.stop();

  ASSERT_TRUE(table_full) << "the flood never filled the SYN-RCVD table";
  ASSERT_TRUE(flood->is_ok()) << flood->status().message;
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first " << failures.front();
  std::multiset<uint16_t> expected;
  for (size_t i = 0; i < kClients; ++i)
    expected.insert(static_cast<uint16_t>(kFirstClientPort + i));
  EXPECT_EQ(acceptor.accepted().snapshot(), expected) << "each client accepted exactly once";

  ListenCounters c = counters();
  // Every SYN that reached the listener was answered: with a SYN-ACK from a half-open record or
  // a cookie, unless a full accept queue or (with cookies off) a full table dropped it.
  EXPECT_EQ(c.syns_received - c.accept_queue_full_syn_drops - c.syn_queue_full_drops,
            c.synacks_sent - c.synack_retransmits);
  EXPECT_EQ(c.accept_queue_full_syn_drops, 0u);
  EXPECT_EQ(c.accept_queue_full_ack_drops, 0u);
  EXPECT_EQ(c.syn_queue_full_drops, 0u);
  EXPECT_GT(c.syn_queue_full, 0u);
  if (GetParam()) {
    // The SYNs after the table filled were answered in the kernel, before the TAP's queue, and
    // none of the clients' SYNs was lost there: no client waited for a retransmission.
    EXPECT_GT(kernel_synacks(), (*flood)->sent / 2);
    EXPECT_EQ(retransmitted.load(), 0u) << "clients that retransmitted their SYN";
  } else {
    EXPECT_GT(c.syncookies_sent, 0u);
  }
  // The connections were made by the engine, from the cookie ACKs, either way.
  EXPECT_EQ(c.syncookies_validated, acceptor.from_cookie());
  // The clients came after the table filled, and spoofed records hold it full for 63 s.
  EXPECT_EQ(acceptor.from_cookie(), kClients);
  EXPECT_EQ(c.passive_opens, kClients);
  // Memory stays flat: the flood's SYNs leave at most the table's worth of records behind.
  // Endpoints are the listener and the legitimate connections (served ones finishing their
  // FIN exchange and TIME-WAIT), whatever the flood's size.
  EXPECT_LE(acceptor.max_half_open(), kBacklog);
  EXPECT_LE(acceptor.max_endpoints(), size_t{1 + kClients});
  EXPECT_TRUE(events_.eventually([&] {
    return loop_->call([](Engine& e) { return e.endpoint_count(); }) == 1;
  })) << "only the listener is left once the served connections are released";
  EXPECT_LE(loop_->call([&](Engine& e) { return e.query(listener)->listener->syn_received; }),
            kBacklog);

  std::printf(
      "[ flood    ] %llu SYNs sent in %.2f s (%.0f/s), %llu dropped by the TAP's queue; engine "
      "read %llu frames, %llu SYNs, sent %llu cookies; the kernel path %llu; %zu of %zu clients "
      "via cookies, %zu retransmitted their SYN\n",
      static_cast<unsigned long long>((*flood)->sent),
      std::chrono::duration<double>((*flood)->elapsed).count(), (*flood)->packets_per_second(),
      static_cast<unsigned long long>((*flood)->link_dropped),
      static_cast<unsigned long long>(c.frames_received),
      static_cast<unsigned long long>(c.syns_received),
      static_cast<unsigned long long>(c.syncookies_sent),
      static_cast<unsigned long long>(kernel_synacks()), acceptor.from_cookie(), kClients,
      retransmitted.load());
}

TEST_P(SynFlood, CookieConnectionsKeepWindowScaleSackAndTimestamps) {
  loop_->call([](Engine& e) {
    TunableConfig t = e.tunable();
    t.syncookies = tcp::SynCookieMode::kAlways;
    e.update_tunable(t);
  });
  EndpointId listener = make_listener(kPort, kBacklog);
  KernelSocket client;
  ASSERT_EQ(connect_and_send(client, kFirstClientPort, kPort), "");
  tcp_info kernel{};
  socklen_t length = sizeof kernel;
  ASSERT_EQ(getsockopt(client.fd(), IPPROTO_TCP, TCP_INFO, &kernel, &length), 0);
  // The kernel took every option from the cookie SYN-ACK.
  EXPECT_TRUE(kernel.tcpi_options & TCPI_OPT_TIMESTAMPS);
  EXPECT_TRUE(kernel.tcpi_options & TCPI_OPT_SACK);
  EXPECT_TRUE(kernel.tcpi_options & TCPI_OPT_WSCALE);

  std::optional<EndpointInfo> info;
  ASSERT_TRUE(events_.eventually([&] {
    info = loop_->call([&](Engine& e) -> std::optional<EndpointInfo> {
      auto id = e.accept(listener);
      if (!id.is_ok()) return std::nullopt;
      return *e.query(*id);
    });
    return info.has_value();
  }));
  ASSERT_TRUE(info->connection);
  const ConnectionInfo& c = *info->connection;
  EXPECT_TRUE(c.from_syn_cookie);
  EXPECT_EQ(info->remote_port, kFirstClientPort);
  EXPECT_TRUE(c.timestamps);
  EXPECT_TRUE(c.sack_permitted);
  EXPECT_EQ(c.send_window_scale, std::optional<uint8_t>(uint8_t{kernel.tcpi_rcv_wscale}));
  EXPECT_EQ(c.receive_window_scale, std::optional<uint8_t>(uint8_t{kernel.tcpi_snd_wscale}));
  EXPECT_EQ(c.mss, 1460);
  EXPECT_EQ(loop_->stats().syncookies_validated.get(), 1u);
  if (GetParam()) {
    // The kernel answered the SYN with the engine's cookie, and the engine took its ACK.
    EXPECT_EQ(kernel_synacks(), 1u);
    EXPECT_EQ(loop_->stats().syns_received.get(), 0u);
  } else {
    EXPECT_EQ(loop_->stats().syncookies_sent.get(), loop_->stats().syns_received.get());
  }
}

INSTANTIATE_TEST_SUITE_P(CookiePath, SynFlood, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "KernelPath" : "UserSpace";
                         });

}  // namespace
}  // namespace tapstack::testing
