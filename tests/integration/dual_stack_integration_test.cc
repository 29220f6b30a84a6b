// Listeners of either family against the Linux kernel's IPv4 and IPv6 clients on a real TAP, as
// Linux's own listeners behave: a dual-stack listener (bound to ::) takes both families at once
// and shows IPv4 peers as IPv4; a v6-only listener and an IPv4 one share a port, each refusing
// the other family with RST; and a flood of SYNs from spoofed IPv6 sources is answered with
// cookies while the kernel's IPv6 clients still connect. Addresses: 198.18.N.0/24 and
// 2001:db8:N::/64, in the namespace in_netns.sh creates.
#include <sys/socket.h>

#include <atomic>
#include <string>

#include "stack/header/ethernet.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"
#include "stack/header/tcp_options.h"
#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

class DualStack : public NetnsTest {
 protected:
  EndpointId listener(const IpAddress& address, uint16_t port, bool v6_only, uint32_t backlog = 8,
                      std::optional<uint32_t> syn_backlog = {}) {
    return loop_->call([&](Engine& e) {
      EndpointId id = *e.create_endpoint();
      Status bound = e.bind(id, address, port, v6_only);
      EXPECT_TRUE(bound.is_ok()) << bound.message;
      EXPECT_TRUE(e.listen(id, backlog, syn_backlog).is_ok());
      return id;
    });
  }
  // The next connection of `listener`, accepted, as the engine describes it.
  EndpointInfo accept_next(EndpointId listener) {
    Result<EndpointId> id = error(ErrorCode::kWouldBlock, "");
    bool got = events_.eventually([&] {
      id = loop_->call([&](Engine& e) { return e.accept(listener); });
      return id.is_ok();
    });
    if (!got) {
      ADD_FAILURE() << "no connection to accept";
      return {};
    }
    return *loop_->call([&](Engine& e) { return e.query(*id); });
  }
  // Connects a kernel client of `family` to our address of that family; errno on failure.
  int connect_from_kernel(int family, uint16_t port, KernelSocket& client) {
    client = KernelSocket(5s, family);
    return client.connect_to(engine_address(family), port) ? 0 : errno;
  }
};

TEST_F(DualStack, ADualStackListenerTakesBothFamiliesAndShowsIpv4PeersAsIpv4) {
  EndpointId l = listener(Ipv6Address{}, 8080, false);
  KernelSocket v4;
  KernelSocket v6;
  ASSERT_EQ(connect_from_kernel(AF_INET, 8080, v4), 0);
  ASSERT_EQ(connect_from_kernel(AF_INET6, 8080, v6), 0);
  EndpointInfo first = accept_next(l);
  EndpointInfo second = accept_next(l);
  EXPECT_EQ(first.remote_address.to_string(), kernel_address(AF_INET));
  EXPECT_EQ(first.local_address.to_string(), engine_address(AF_INET));
  EXPECT_EQ(first.remote_port, v4.local_port());
  EXPECT_EQ(first.connection->mss, 1460);
  EXPECT_EQ(second.remote_address.to_string(), kernel_address(AF_INET6));
  EXPECT_EQ(second.local_address.to_string(), engine_address(AF_INET6));
  EXPECT_EQ(second.remote_port, v6.local_port());
  EXPECT_EQ(second.connection->mss, 1440);
}

TEST_F(DualStack, AV6OnlyAndAnIpv4ListenerShareAPortAndRefuseTheOtherFamily) {
  EndpointId v6_only = listener(Ipv6Address{}, 8081, true);
  KernelSocket client;
  EXPECT_EQ(connect_from_kernel(AF_INET, 8081, client), ECONNREFUSED);
  ASSERT_EQ(connect_from_kernel(AF_INET6, 8081, client), 0);
  EXPECT_EQ(accept_next(v6_only).remote_address.to_string(), kernel_address(AF_INET6));

  EndpointId v4 = listener(Ipv4Address{}, 8082, false);
  EXPECT_EQ(connect_from_kernel(AF_INET6, 8082, client), ECONNREFUSED);
  EndpointId v6_beside = listener(Ipv6Address{}, 8082, true);
  ASSERT_EQ(connect_from_kernel(AF_INET, 8082, client), 0);
  EXPECT_EQ(accept_next(v4).remote_address.to_string(), kernel_address(AF_INET));
  ASSERT_EQ(connect_from_kernel(AF_INET6, 8082, client), 0);
  EXPECT_EQ(accept_next(v6_beside).remote_address.to_string(), kernel_address(AF_INET6));
}

TEST_F(DualStack, AListenerOnOneIpv6AddressTakesOnlyThatAddress) {
  EndpointId l = listener(*IpAddress::parse(engine_address(AF_INET6)), 8083, false);
  KernelSocket client;
  EXPECT_EQ(connect_from_kernel(AF_INET, 8083, client), ECONNREFUSED);
  ASSERT_EQ(connect_from_kernel(AF_INET6, 8083, client), 0);
  EXPECT_EQ(accept_next(l).local_address.to_string(), engine_address(AF_INET6));
}

// SYNs from 2000 spoofed sources of the link's prefix, written to the TAP as a host would send
// them, fill the SYN-RCVD table of 16; every later SYN, the kernel's included, is answered with
// a cookie, and the kernel's clients all connect through it.
TEST_F(DualStack, SpoofedIpv6SynFloodIsAnsweredWithCookiesAndClientsStillConnect) {
  constexpr uint16_t kPort = 8084;
  constexpr uint32_t kBacklog = 16;
  constexpr uint32_t kSpoofed = 2000;
  EndpointId l = listener(Ipv6Address{}, kPort, false, 64, kBacklog);
  const Ipv6Address ours = *Ipv6Address::parse(engine_address(AF_INET6));
  const MacAddress our_mac = loop_->call([](Engine& e) { return e.config().mac; });
  flood_tap(
      kSpoofed,
      [&](uint32_t i) {
        std::vector<uint8_t> frame(14 + 40 + 20);
        header::write_ethernet(frame.data(), our_mac, MacAddress{{0x02, 0, 0, 0, 0x10, 0x01}},
                               header::kEtherTypeIpv6);
        Ipv6Address source = ours;
        source.bytes[12] = 0xee;  // 2001:db8:N::ee00:0 + i: nobody on the link
        source.bytes[14] = static_cast<uint8_t>(i >> 8);
        source.bytes[15] = static_cast<uint8_t>(i);
        header::write_ipv6(frame.data() + 14, source, ours, header::kProtocolTcp, 20, 64, 0);
        header::write_tcp(
            frame.data() + 54,
            {static_cast<uint16_t>(10000 + i), kPort, i * 7919, 0, header::tcp_flags::kSyn, 65535},
            0, 20, IpAddress(source), IpAddress(ours));
        return frame;
      },
      [](const Stats& s) { return s.syns_received.get(); });
  const Stats& stats = loop_->stats();
  EXPECT_EQ(stats.syns_received.get(), kSpoofed);
  EXPECT_EQ(stats.syncookies_sent.get(), kSpoofed - kBacklog);
  EXPECT_EQ(loop_->call([&](Engine& e) { return e.half_open_count(); }), kBacklog);

  constexpr int kClients = 20;
  std::vector<KernelSocket> clients;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(connect_from_kernel(AF_INET6, kPort, clients.emplace_back()), 0) << "client " << i;
  }
  for (int i = 0; i < kClients; ++i) {
    EndpointInfo c = accept_next(l);
    EXPECT_EQ(c.remote_address.to_string(), kernel_address(AF_INET6));
    EXPECT_TRUE(c.connection->from_syn_cookie);
    EXPECT_EQ(c.connection->mss, 1440);  // the IPv6 table's 1500 - 60
  }
  EXPECT_EQ(stats.syncookies_validated.get(), static_cast<uint64_t>(kClients));
}

}  // namespace
}  // namespace tapstack::testing
