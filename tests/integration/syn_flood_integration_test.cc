// The engine under a SYN flood from spoofed off-link sources (tests/tools/syn_flood.h) while the
// kernel connects as legitimate clients: every legitimate connect succeeds through SYN cookies,
// the SYN-RCVD and endpoint tables stay bounded, and the listen counters agree with each other.
#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/netns_fixture.h"
#include "tests/tools/syn_flood.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kPort = 7000;
constexpr uint32_t kBacklog = 16;             // SYN-RCVD table and accept queue alike
constexpr uint16_t kFirstClientPort = 20000;  // below the kernel's ephemeral range

// Ports of the kernel clients whose connections the engine has accepted, for the clients that
// wait for theirs before they close.
class AcceptedPorts {
 public:
  void add(const std::vector<uint16_t>& ports) {
    std::lock_guard lock(mutex_);
    ports_.insert(ports.begin(), ports.end());
    changed_.notify_all();
  }
  bool wait_for(uint16_t port, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return ports_.contains(port); });
  }
  std::multiset<uint16_t> snapshot() {
    std::lock_guard lock(mutex_);
    return {ports_.begin(), ports_.end()};
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::multiset<uint16_t> ports_;
};

// What one turn of the acceptor saw, all read on the loop thread at one instant.
struct AcceptTurn {
  std::vector<uint16_t> done;  // client ports whose connections were served and closed
  size_t from_cookie = 0;
  size_t endpoints = 0;       // at the start of the turn
  uint32_t syn_received = 0;  // the listener's half-open records
};

// The listen counters, read on the loop thread so that they describe one instant.
struct ListenCounters {
  uint64_t syns_received, synacks_sent, synack_retransmits, syn_queue_full, syncookies_sent,
      syncookies_validated, accept_queue_full_syn_drops, accept_queue_full_ack_drops,
      syn_queue_full_drops, passive_opens, frames_received;
};

class SynFlood : public NetnsTest {
 protected:
  void configure(EngineConfig& config) override {
    // SYN-ACKs to the spoofed off-link sources go to the kernel, which does not forward them.
    config.gateway = Ipv4Address::parse(kernel_address_);
    config.time_wait = 100ms;  // so that the served connections are gone before the test ends
  }

  tools::SynFloodConfig flood_config() const {
    tools::SynFloodConfig c;
    c.interface = loop_->tap_name();
    c.destination_mac = config_.mac;
    c.destination = config_.address.address;
    c.destination_port = kPort;
    c.sources = *Ipv4Subnet::parse("198.19.0.0/16");
    c.max_packets = 300'000;
    c.max_duration = 10s;
    c.seed = Random::system_seed();
    return c;
  }

  // Accepts every queued connection, and closes each one whose client's byte has arrived:
  // closed earlier, that byte, arriving later, would complete a second handshake from the same
  // cookie. The close is graceful, so the tuple stays known through FIN-WAIT and TIME-WAIT: under
  // the flood the kernel's input queue drops some of our ACKs, and a client's retransmitted byte
  // must meet its old connection, not validate the cookie again (an abort would forget the
  // tuple, and Linux would open a second connection just the same). `open` holds the accepted
  // ones still waiting.
  AcceptTurn serve(EndpointId listener, std::map<EndpointId, uint16_t>& open) {
    return loop_->call([&](Engine& e) {
      AcceptTurn turn;
      turn.endpoints = e.endpoint_count();
      turn.syn_received = e.query(listener)->listener->syn_received;
      for (auto id = e.accept(listener); id.is_ok(); id = e.accept(listener)) {
        auto info = e.query(*id);
        turn.from_cookie += info->connection->from_syn_cookie;
        open[*id] = info->remote_port;
      }
      for (auto it = open.begin(); it != open.end();) {
        if (e.query(it->first)->connection->bytes_received == 0) {
          ++it;
          continue;
        }
        turn.done.push_back(it->second);
        EXPECT_TRUE(e.close(it->first, false).is_ok());
        it = open.erase(it);
      }
      return turn;
    });
  }

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

  // A kernel client bound to `port`, connected to the listener, with one byte sent: if the ACK
  // that completes a cookie handshake is lost, the data's retransmission completes it instead.
  // Returns what failed, or an empty string.
  std::string connect_and_send(KernelSocket& s, uint16_t port) {
    s.set_timeout(20s);
    sockaddr_in local = socket_address(kernel_address(), port);
    const char* step = nullptr;
    if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      step = "bind";
    } else if (!s.connect_to(engine_address(), kPort)) {
      step = "connect";
    } else if (::send(s.fd(), "x", 1, 0) != 1) {
      step = "send";
    }
    return step ? "port " + std::to_string(port) + ": " + step + ": " + strerror(errno) : "";
  }
};

TEST_F(SynFlood, LegitimateClientsAllConnectThroughTheFlood) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  constexpr size_t kClients = kThreads * kPerThread;
  EndpointId listener = make_listener(kPort, kBacklog);

  std::atomic<bool> stop_flood{false};
  std::optional<Result<tools::SynFloodReport>> flood;
  std::thread flooder([&] { flood.emplace(tools::run_syn_flood(flood_config(), &stop_flood)); });
  // The clients start once the flood has filled the SYN-RCVD table: from then on (the spoofed
  // records wait 63 s for ACKs that never come) every SYN is answered with a cookie.
  bool table_full = events_.eventually([&] { return loop_->stats().syn_queue_full.get() > 0; });

  AcceptedPorts accepted;
  std::atomic<bool> acceptor_done{false};
  size_t accepted_from_cookie = 0;
  size_t max_endpoints = 0;
  uint32_t max_half_open = 0;
  std::thread acceptor([&] {
    std::map<EndpointId, uint16_t> open;
    while (!acceptor_done.load()) {
      // Re-checked after every engine event and every 20 ms, until the clients are done.
      events_.eventually(
          [&] {
            AcceptTurn turn = serve(listener, open);
            accepted.add(turn.done);
            accepted_from_cookie += turn.from_cookie;
            max_endpoints = std::max(max_endpoints, turn.endpoints);
            max_half_open = std::max(max_half_open, turn.syn_received);
            return !turn.done.empty() || acceptor_done.load();
          },
          1s);
    }
  });

  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  if (table_full) {
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto port = static_cast<uint16_t>(kFirstClientPort + t * kPerThread + i);
          KernelSocket s;
          // Kept open until served, so at most kThreads connections wait at a time and the
          // accept queue (kBacklog) can never be what turns a SYN away.
          std::string failure = connect_and_send(s, port);
          if (failure.empty() && !accepted.wait_for(port, 20s)) {
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
  // The flood runs to its bounds, past the clients: all of it must be answered and leave no
  // state behind. Only a flood that never reached the listener is cut short.
  stop_flood = !table_full;
  flooder.join();
  acceptor_done = true;
  acceptor.join();

  ASSERT_TRUE(table_full) << "the flood never filled the SYN-RCVD table";
  ASSERT_TRUE(flood->is_ok()) << flood->status().message;
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, first " << failures.front();
  std::multiset<uint16_t> expected;
  for (size_t i = 0; i < kClients; ++i)
    expected.insert(static_cast<uint16_t>(kFirstClientPort + i));
  EXPECT_EQ(accepted.snapshot(), expected) << "each client accepted exactly once";

  ListenCounters c = counters();
  // Every SYN that reached the listener was answered: with a SYN-ACK from a half-open record or
  // a cookie, unless a full accept queue or (with cookies off) a full table dropped it.
  EXPECT_EQ(c.syns_received - c.accept_queue_full_syn_drops - c.syn_queue_full_drops,
            c.synacks_sent - c.synack_retransmits);
  EXPECT_EQ(c.accept_queue_full_syn_drops, 0u);
  EXPECT_EQ(c.accept_queue_full_ack_drops, 0u);
  EXPECT_EQ(c.syn_queue_full_drops, 0u);
  EXPECT_GT(c.syn_queue_full, 0u);
  EXPECT_GT(c.syncookies_sent, 0u);
  EXPECT_EQ(c.syncookies_validated, accepted_from_cookie);
  // The clients came after the table filled, and spoofed records hold it full for 63 s.
  EXPECT_EQ(accepted_from_cookie, kClients);
  EXPECT_EQ(c.passive_opens, kClients);
  // Memory stays flat: the flood's SYNs leave at most the table's worth of records behind.
  // Endpoints are the listener and the legitimate connections (served ones finishing their
  // FIN exchange and TIME-WAIT), whatever the flood's size.
  EXPECT_LE(max_half_open, kBacklog);
  EXPECT_LE(max_endpoints, size_t{1 + kClients});
  EXPECT_TRUE(events_.eventually([&] {
    return loop_->call([](Engine& e) { return e.endpoint_count(); }) == 1;
  })) << "only the listener is left once the served connections are released";
  EXPECT_LE(loop_->call([&](Engine& e) { return e.query(listener)->listener->syn_received; }),
            kBacklog);

  std::printf(
      "[ flood    ] %llu SYNs sent in %.2f s (%.0f/s); engine read %llu frames, %llu SYNs, "
      "sent %llu cookies; %zu of %zu clients via cookies\n",
      static_cast<unsigned long long>((*flood)->sent),
      std::chrono::duration<double>((*flood)->elapsed).count(), (*flood)->packets_per_second(),
      static_cast<unsigned long long>(c.frames_received),
      static_cast<unsigned long long>(c.syns_received),
      static_cast<unsigned long long>(c.syncookies_sent), accepted_from_cookie, kClients);
}

TEST_F(SynFlood, CookieConnectionsKeepWindowScaleSackAndTimestamps) {
  loop_->call([](Engine& e) {
    TunableConfig t = e.tunable();
    t.syncookies = tcp::SynCookieMode::kAlways;
    e.update_tunable(t);
  });
  EndpointId listener = make_listener(kPort, kBacklog);
  KernelSocket client;
  ASSERT_EQ(connect_and_send(client, kFirstClientPort), "");
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
  EXPECT_EQ(loop_->stats().syncookies_sent.get(), loop_->stats().syns_received.get());
}

}  // namespace
}  // namespace tapstack::testing
