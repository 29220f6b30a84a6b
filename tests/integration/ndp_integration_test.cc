// IPv6 against the Linux kernel on a real TAP: the engine's addresses pass DAD and become
// preferred; the kernel's ICMPv6 echo (a raw socket, as ping -6 uses) to our global and
// link-local addresses gets replies, the kernel having resolved us by Neighbour Discovery (its
// neighbour table then holds our MAC); and a flood of solicitations from distinct senders,
// written to the TAP through a packet socket, leaves our IPv6 neighbour table at its bound.
// Addresses: 2001:db8:N::/64 only (RFC 3849), in the namespace in_netns.sh creates.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <cstring>

#include "stack/header/ethernet.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/header/ndp.h"
#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

class NdpKernel : public NetnsTest {
 protected:
  // Our addresses pass DAD against the kernel (the fixture turns it off for other tests); the
  // kernel's side of the link, 2001:db8:N::1, has none of its own (it would hold it back).
  void configure(EngineConfig& config) override { config.ipv6_dad_transmits = 1; }
  std::string prefix() const { return "2001:db8:" + std::to_string(subnet_) + "::"; }
  Ipv6Address engine_global() const { return *Ipv6Address::parse(engine_address(AF_INET6)); }
  std::string tap_name() const { return "tap" + std::to_string(subnet_); }
  bool all_preferred() {
    return loop_->call([](Engine& e) {
      for (const auto& a : e.ipv6_addresses()) {
        if (a.state != net::Ipv6AddressState::kPreferred) return false;
      }
      return true;
    });
  }
  uint64_t counter(uint64_t (*read)(const Stats&)) {
    return loop_->call([&](Engine& e) { return read(e.stats()); });
  }
  // One echo request to `to` and its reply, through a raw ICMPv6 socket (the kernel fills in
  // the checksum, RFC 3542 §3.1).
  bool ping(const Ipv6Address& to, uint16_t seq) {
    int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    std::memcpy(&address.sin6_addr, to.bytes.data(), 16);
    address.sin6_scope_id = if_nametoindex(tap_name().c_str());
    std::array<uint8_t, 32> request{};
    auto* icmp = reinterpret_cast<icmp6_hdr*>(request.data());
    icmp->icmp6_type = ICMP6_ECHO_REQUEST;
    icmp->icmp6_id = htons(0x6a6a);
    icmp->icmp6_seq = htons(seq);
    std::memcpy(request.data() + 8, "tapstack ping -6", 16);
    bool replied = false;
    if (sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&address),
               sizeof address) == static_cast<ssize_t>(request.size())) {
      // The raw socket sees every ICMPv6 message (NDP included): skip all but our reply.
      for (int tries = 0; tries < 20 && !replied; ++tries) {
        std::array<uint8_t, 1500> in{};
        ssize_t n = recv(fd, in.data(), in.size(), 0);
        if (n <= 0) break;
        const auto* reply = reinterpret_cast<const icmp6_hdr*>(in.data());
        replied = static_cast<size_t>(n) == request.size() &&
                  reply->icmp6_type == ICMP6_ECHO_REPLY && ntohs(reply->icmp6_seq) == seq &&
                  std::memcmp(in.data() + 8, request.data() + 8, request.size() - 8) == 0;
      }
    }
    close(fd);
    return replied;
  }
  std::string kernel_neighbour(const Ipv6Address& address) {
    std::string command =
        "ip -6 neigh show " + address.to_string() + " dev " + tap_name() + " 2>&1";
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
      std::array<char, 256> line{};
      while (fgets(line.data(), line.size(), p)) out += line.data();
      pclose(p);
    }
    return out;
  }
};

TEST_F(NdpKernel, KernelPingGetsRepliesAtOurGlobalAndLinkLocalAddresses) {
  // DAD: one probe, RetransTimer (1 s) unanswered.
  ASSERT_TRUE(events_.eventually([&] { return all_preferred(); }, std::chrono::seconds(5)));
  const Ipv6Address link_local = Ipv6Address::link_local_from_mac(EngineConfig{}.mac);
  uint16_t seq = 0;
  for (const Ipv6Address& ours : {engine_global(), link_local}) {
    SCOPED_TRACE(ours.to_string());
    // The kernel's own link-local address may still be in its DAD: a few tries.
    bool replied = false;
    for (int tries = 0; tries < 5 && !replied; ++tries) replied = ping(ours, ++seq);
    EXPECT_TRUE(replied);
    // The kernel resolved us by NDP: its table holds our MAC.
    std::string neighbour = kernel_neighbour(ours);
    EXPECT_NE(neighbour.find("lladdr 02:00:00:00:00:02"), std::string::npos) << neighbour;
    EXPECT_TRUE(neighbour.find("REACHABLE") != std::string::npos ||
                neighbour.find("STALE") != std::string::npos ||
                neighbour.find("DELAY") != std::string::npos)
        << neighbour;
  }
  EXPECT_GE(counter([](const Stats& s) { return s.icmpv6_sent.get(); }), 2u);
  EXPECT_GE(counter([](const Stats& s) { return s.ndp_advertisements_sent.get(); }), 2u);
}

TEST_F(NdpKernel, SolicitationsFromManySendersKeepTheTableAtItsBound) {
  ASSERT_TRUE(events_.eventually([&] { return all_preferred(); }, std::chrono::seconds(5)));
  const Ipv6Address target = engine_global();
  const Ipv6Address group = target.solicited_node();
  constexpr uint32_t kSenders = 3000;
  flood_tap(
      kSenders,
      [&](uint32_t i) {
        // 2001:db8:N::1:0 onwards: on our prefix, none of them the kernel's or ours.
        Ipv6Address sender = *Ipv6Address::parse(prefix() + "1:0");
        sender.bytes[14] = static_cast<uint8_t>(i >> 8);
        sender.bytes[15] = static_cast<uint8_t>(i);
        MacAddress mac{
            {0x02, 0xbb, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 0x01}};
        std::vector<uint8_t> frame(14 + 40 + header::kMaxNeighbourMessageSize);
        size_t size =
            header::write_neighbour_solicitation(frame.data() + 54, sender, group, target, mac);
        header::write_ipv6(frame.data() + 14, sender, group, header::kProtocolIcmpv6,
                           static_cast<uint16_t>(size), header::kNdpHopLimit, 0);
        header::write_ethernet(frame.data(), group.multicast_mac(), mac, header::kEtherTypeIpv6);
        frame.resize(54 + size);
        return frame;
      },
      [](const Stats& s) { return s.ndp_solicitations_received.get(); });
  uint64_t created = counter([](const Stats& s) { return s.ndp_entries_created.get(); });
  uint64_t removed = counter([](const Stats& s) { return s.ndp_entries_removed.get(); });
  uint64_t refused = counter([](const Stats& s) { return s.dropped(DropReason::ndp_table_full); });
  // gc_thresh3 (1024) entries at most; the rest refused, and every solicitation answered.
  EXPECT_LE(created - removed, 1024u);
  EXPECT_GE(created - removed, 1000u);
  EXPECT_GE(refused, kSenders - 1024);
  EXPECT_GE(counter([](const Stats& s) { return s.ndp_advertisements_sent.get(); }), kSenders);
}

}  // namespace
}  // namespace tapstack::testing
