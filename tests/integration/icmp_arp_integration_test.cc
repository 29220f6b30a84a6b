// ICMP and ARP against the Linux kernel on a real TAP: the kernel's ICMP echo (a raw socket,
// as ping uses) gets replies; a connect to an on-link address where no host answers ARP ends
// as unreachable after the three ARP tries, not after 127 s of SYN retries; a connect through
// the kernel as router to a destination it has an `unreachable` route for ends at the ICMP
// host-unreachable the kernel sends back; and a flood of who-has requests from distinct
// senders, written to the TAP through a packet socket, leaves the neighbour table at its bound.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "stack/header/arp.h"
#include "stack/header/ethernet.h"
#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

class IcmpArp : public NetnsTest {
 protected:
  // Starts an active open from a new endpoint to `address`:`port`.
  EndpointId engine_connect(const std::string& address, uint16_t port) {
    return loop_->call([&](Engine& e) {
      EndpointId c = *e.create_endpoint();
      EXPECT_TRUE(e.connect(c, *Ipv4Address::parse(address), port).is_ok());
      return c;
    });
  }
  // The kUnreachable event for `id`, once it arrived (or a default event after `limit`).
  Event wait_unreachable(EndpointId id, std::chrono::milliseconds limit) {
    Event found;
    events_.wait_for_event(
        [&](const Event& e) {
          if (e.kind != Event::Kind::kUnreachable || e.endpoint != id) return false;
          found = e;
          return true;
        },
        limit);
    return found;
  }
  uint64_t counter(uint64_t (*read)(const Stats&)) {
    return loop_->call([&](Engine& e) { return read(e.stats()); });
  }
  std::string tap_name() const { return "tap" + std::to_string(subnet_); }
};

TEST_F(IcmpArp, KernelPingGetsEchoReplies) {
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in to = socket_address(engine_address(), 0);
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    SCOPED_TRACE(seq);
    std::array<uint8_t, 64> request{};
    auto* icmp = reinterpret_cast<icmphdr*>(request.data());
    icmp->type = ICMP_ECHO;
    icmp->un.echo.id = htons(0x7a7a);
    icmp->un.echo.sequence = htons(seq);
    std::memcpy(request.data() + 8, "tapstack ping", 13);
    // The Internet checksum over the message, computed here independently of the engine's.
    uint32_t sum = 0;
    for (size_t i = 0; i < request.size(); i += 2) sum += request[i] << 8 | request[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    icmp->checksum = htons(static_cast<uint16_t>(~sum));
    ASSERT_EQ(
        sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
        static_cast<ssize_t>(request.size()));
    // A raw socket sees every ICMP message to this namespace: skip anything but our reply.
    bool replied = false;
    for (int tries = 0; tries < 10 && !replied; ++tries) {
      std::array<uint8_t, 1500> in{};
      ssize_t n = recv(fd, in.data(), in.size(), 0);
      ASSERT_GT(n, 0) << "no echo reply: " << std::strerror(errno);
      size_t ihl = (in[0] & 0x0f) * 4u;
      const auto* reply = reinterpret_cast<const icmphdr*>(in.data() + ihl);
      replied = static_cast<size_t>(n) == ihl + request.size() && reply->type == ICMP_ECHOREPLY &&
                ntohs(reply->un.echo.sequence) == seq && ntohs(reply->un.echo.id) == 0x7a7a &&
                std::memcmp(in.data() + ihl + 8, request.data() + 8, request.size() - 8) == 0;
    }
    EXPECT_TRUE(replied);
  }
  close(fd);
  EXPECT_EQ(counter([](const Stats& s) { return s.icmp_sent.get(); }), 3u);
}

TEST_F(IcmpArp, ConnectToAnAbsentOnLinkHostEndsUnreachableAfterThreeSeconds) {
  std::string absent = "198.18." + std::to_string(subnet_) + ".77";
  auto start = std::chrono::steady_clock::now();
  EndpointId id = engine_connect(absent, 80);
  Event e = wait_unreachable(id, 10s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(e.kind, Event::Kind::kUnreachable) << "no unreachable event within 10 s";
  EXPECT_EQ(e.reason, "host unreachable (no ARP reply)");
  EXPECT_GE(took, 2900ms);  // three ARP requests a second apart
  EXPECT_LT(took, 4500ms);
  EXPECT_EQ(counter([](const Stats& s) { return s.unreachable_aborts.get(); }), 1u);
}

class IcmpThroughRouter : public IcmpArp {
 protected:
  // The kernel is our gateway; it forwards (inside this test's namespace only) and has an
  // `unreachable` route for the destination, so it answers our SYN with ICMP host unreachable.
  void configure(EngineConfig& config) override {
    config.gateway = Ipv4Address::parse("198.18." + std::to_string(subnet_) + ".1");
  }
  std::string destination_net() const { return "198.19." + std::to_string(subnet_) + ".0/24"; }
  void TearDown() override {
    IcmpArp::TearDown();
    std::system(("ip route del unreachable " + destination_net() + " 2>/dev/null").c_str());
    std::system("sysctl -qw net.ipv4.conf.all.forwarding=0");
  }
};

TEST_F(IcmpThroughRouter, KernelRouterIcmpHostUnreachableEndsConnectAtOnce) {
  ASSERT_EQ(std::system("sysctl -qw net.ipv4.conf.all.forwarding=1"), 0);
  ASSERT_EQ(std::system(("ip route replace unreachable " + destination_net()).c_str()), 0);
  auto start = std::chrono::steady_clock::now();
  EndpointId id = engine_connect("198.19." + std::to_string(subnet_) + ".5", 80);
  Event e = wait_unreachable(id, 10s);
  ASSERT_EQ(e.kind, Event::Kind::kUnreachable) << "no unreachable event within 10 s";
  EXPECT_EQ(e.reason, "host unreachable (ICMP)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);  // before the first SYN retry
  EXPECT_EQ(counter([](const Stats& s) { return s.icmp_received.get(); }), 1u);
}

class ArpFlood : public IcmpArp {
 protected:
  // On a /16, so that the flood has 65,000 plausible neighbours to come from.
  void configure(EngineConfig& config) override { config.address.prefix = 16; }
};

TEST_F(ArpFlood, WhoHasFromManySendersKeepsTheTableAtItsBound) {
  Ipv4Address engine = *Ipv4Address::parse(engine_address());
  constexpr uint32_t kSenders = 5000;
  flood_tap(
      kSenders,
      [&](uint32_t i) {
        // 198.18.100.0 onwards: on the engine's /16, none of them the kernel's or the engine's.
        Ipv4Address sender{(198u << 24 | 18u << 16 | 100u << 8) + i};
        MacAddress mac{{0x02, 0xaa, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                        static_cast<uint8_t>(i), 0x01}};
        std::vector<uint8_t> frame(header::EthernetView::kSize + header::ArpView::kSize);
        header::write_ethernet(frame.data(), MacAddress::broadcast(), mac, header::kEtherTypeArp);
        header::write_arp(frame.data() + header::EthernetView::kSize, header::kArpRequest, mac,
                          sender, MacAddress{}, engine);
        return frame;
      },
      [](const Stats& s) { return s.arp_requests_received.get(); });
  uint64_t created = counter([](const Stats& s) { return s.arp_entries_created.get(); });
  uint64_t removed = counter([](const Stats& s) { return s.arp_entries_removed.get(); });
  uint64_t refused = counter([](const Stats& s) { return s.dropped(DropReason::arp_table_full); });
  uint64_t asked = counter([](const Stats& s) { return s.arp_requests_received.get(); });
  // gc_thresh3 (1024) entries at most, whatever the kernel's own entry; the rest refused, and
  // every request answered.
  EXPECT_LE(created - removed, 1024u);
  EXPECT_GE(created - removed, 1000u);
  EXPECT_GE(refused, kSenders - 1024);
  EXPECT_EQ(counter([](const Stats& s) { return s.arp_replies_sent.get(); }), asked);
}

}  // namespace
}  // namespace tapstack::testing
