// The SYN shield (stack/link/syn_shield.h) on a real TAP: it stays out of the way until a flood
// overflows the TAP's queue, then every legitimate kernel client still connects, with at most one
// SYN retransmission, and it turns itself off once the flood is over.
#include <netinet/tcp.h>

#include <atomic>
#include <thread>

#include "stack/link/syn_shield.h"
#include "tests/integration/netns_fixture.h"
#include "tests/tools/syn_flood.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint16_t kPort = 7100;

struct ClientResult {
  bool connected = false;
  uint32_t syn_retransmissions = 0;
  std::chrono::milliseconds took{};
};

// One kernel client: connects (bounded), and reports how many SYNs it had to resend.
ClientResult connect_client(const char* address) {
  ClientResult result;
  KernelSocket client(8s);
  auto start = std::chrono::steady_clock::now();
  result.connected = client.connect_to(address, kPort);
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  tcp_info info{};
  socklen_t length = sizeof info;
  if (getsockopt(client.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) == 0) {
    result.syn_retransmissions = info.tcpi_total_retrans;
  }
  return result;
}

class SynShieldTest : public NetnsTest {
 protected:
  void configure(EngineConfig& config) override {
    // SYN-ACKs to the spoofed off-link sources go to the kernel, which does not forward them.
    config.gateway = Ipv4Address::parse(kernel_address_);
  }
  void on_tap(const link::TapDevice& tap) override {
    link::SynShieldOptions options;
    options.tick = 50ms;
    options.calm = 1s;
    auto shield = link::SynShield::attach(tap, options);
    ASSERT_TRUE(shield.is_ok()) << shield.status().message;
    shield_ = std::move(shield.value());
  }
  void TearDown() override {
    NetnsTest::TearDown();
    shield_.reset();
  }

  std::unique_ptr<link::SynShield> shield_;
};

TEST_F(SynShieldTest, WithoutAFloodItLetsEverySynThrough) {
  make_listener(kPort, 16);
  for (int i = 0; i < 5; ++i) {
    ClientResult result = connect_client(engine_address());
    EXPECT_TRUE(result.connected);
    EXPECT_EQ(result.syn_retransmissions, 0u);
  }
  link::SynShieldStats stats = shield_->stats();
  EXPECT_FALSE(stats.active);
  EXPECT_EQ(stats.activations, 0u);
  EXPECT_EQ(stats.first_syns_dropped, 0u);
}

TEST_F(SynShieldTest, AFloodThatOverflowsTheQueueIsStoppedAndClientsConnectWithOneRetransmission) {
  make_listener(kPort, 64);
  tools::SynFloodConfig flood;
  flood.interface = loop_->tap_name();
  flood.destination_mac = config_.mac;
  flood.destination = config_.address.address;
  flood.destination_port = kPort;
  flood.max_packets = 50'000'000;
  flood.max_duration = 20s;  // bounds; the test stops it much sooner
  std::atomic<bool> stop{false};
  std::thread flooder([&] { ASSERT_TRUE(tools::run_syn_flood(flood, &stop).is_ok()); });
  struct StopFlood {
    std::atomic<bool>& stop;
    std::thread& flooder;
    ~StopFlood() {
      stop = true;
      if (flooder.joinable()) flooder.join();
    }
  } stop_flood{stop, flooder};

  ASSERT_TRUE(events_.eventually([&] { return shield_->stats().active; }, 5s))
      << "the flood never overflowed the TAP's queue";
  constexpr int kClients = 6;
  std::vector<ClientResult> results(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { results[i] = connect_client(engine_address()); });
  }
  for (auto& c : clients) c.join();
  for (const ClientResult& r : results) {
    EXPECT_TRUE(r.connected);
    EXPECT_LE(r.syn_retransmissions, 1u) << "took " << r.took.count() << " ms";
  }
  link::SynShieldStats during = shield_->stats();
  EXPECT_TRUE(during.active);
  EXPECT_GT(during.first_syns_dropped, 100'000u);
  EXPECT_GE(during.retransmissions_passed, static_cast<uint64_t>(kClients));

  stop = true;
  flooder.join();
  EXPECT_TRUE(events_.eventually([&] { return !shield_->stats().active; }, 5s))
      << "the shield stayed on after the flood";
  // And off, a SYN gets through the first time again.
  ClientResult after = connect_client(engine_address());
  EXPECT_TRUE(after.connected);
  EXPECT_EQ(after.syn_retransmissions, 0u);
}

}  // namespace
}  // namespace tapstack::testing
