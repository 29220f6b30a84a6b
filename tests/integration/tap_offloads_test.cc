// A TAP opened with offloads is left as it was found: the kernel leaves checksums to us while we
// hold it (the virtio-net header says so), and once we close it, the next reader without
// IFF_VNET_HDR (gVisor's netstack on the same persistent TAP, say) gets complete ones again.
// The kernel's UDP datagram to a permanent neighbour is the traffic. Run through in_netns.sh.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stack/header/bytes.h"
#include "stack/header/checksum.h"
#include "stack/link/tap_device.h"
#include "stack/link/vnet_header.h"

namespace tapstack::link {
namespace {

constexpr const char* kTap = "offtap0";
// Outside the 198.18.N.0/24 subnets the other integration tests number from 1.
constexpr const char* kKernelAddress = "198.19.201.1";
constexpr const char* kNeighbour = "198.19.201.2";  // never answers: nothing reads for it
constexpr uint16_t kPort = 9;
constexpr uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM

class TapOffloadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("TAPSTACK_NETNS"), nullptr)
        << "run through tests/integration/in_netns.sh: it creates the network namespace";
    // Persistent, as an operator's TAP is: it outlives our descriptors.
    run(std::string("ip tuntap add dev ") + kTap + " mode tap");
  }
  void TearDown() override { std::system((std::string("ip link delete ") + kTap).c_str()); }

  static void run(const std::string& command) {
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  // The kernel's next UDP datagram to the neighbour, as one read from `tap` (with the virtio-net
  // header when the TAP has them); nothing within 2 s.
  static std::optional<std::vector<uint8_t>> udp_read(const TapDevice& tap) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(s, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kPort);
    inet_pton(AF_INET, kNeighbour, &to.sin_addr);
    const std::vector<uint8_t> payload(100, 0x5a);
    EXPECT_EQ(
        sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
        static_cast<ssize_t>(payload.size()));
    close(s);
    const size_t header = tap.vnet_header() ? kVnetHeaderSize : 0;
    std::vector<uint8_t> buffer(65536 + header);
    pollfd p{tap.fd(), POLLIN, 0};
    while (poll(&p, 1, 2000) > 0) {
      ssize_t n;
      while ((n = tap.read(buffer)) > 0) {
        const uint8_t* ip = buffer.data() + header + 14;
        if (static_cast<size_t>(n) >= header + 14 + 28 &&
            header::load16(buffer.data() + header + 12) == 0x0800 && ip[9] == 17) {
          buffer.resize(static_cast<size_t>(n));
          return buffer;
        }
      }
    }
    return std::nullopt;
  }

  // Whether the UDP checksum of the frame in `frame` (no virtio-net header) is complete.
  static bool udp_checksum_complete(std::span<const uint8_t> frame) {
    const uint8_t* ip = frame.data() + 14;
    const size_t ip_length = (ip[0] & 0x0f) * 4u;
    const auto udp = frame.subspan(14 + ip_length);
    const uint16_t length = header::load16(udp.data() + 4);
    uint64_t sum = header::pseudo_header_sum(Ipv4Address{header::load32(ip + 12)},
                                             Ipv4Address{header::load32(ip + 16)}, 17, length);
    return header::checksum_finish(header::checksum_add(sum, udp.first(length))) == 0;
  }
};

TEST_F(TapOffloadsTest, ClosingTurnsTheOffloadsOffForTheNextReader) {
  {
    auto tap = TapDevice::open(kTap, TapOffloads::kOn);
    ASSERT_TRUE(tap.is_ok()) << tap.status().message;
    ASSERT_TRUE(tap->vnet_header());
    run(std::string("ip addr add ") + kKernelAddress + "/24 dev " + kTap);
    run(std::string("ip neigh replace ") + kNeighbour +
        " lladdr 02:00:00:00:00:02 nud permanent dev " + kTap);
    auto read = udp_read(*tap);
    ASSERT_TRUE(read.has_value()) << "no datagram from the kernel";
    // While we hold it, the kernel leaves the checksum to us.
    EXPECT_TRUE((*read)[0] & kNeedsChecksum);
    EXPECT_FALSE(udp_checksum_complete(std::span(*read).subspan(kVnetHeaderSize)));
  }
  auto next = TapDevice::open(kTap, TapOffloads::kOff);
  ASSERT_TRUE(next.is_ok()) << next.status().message;
  auto read = udp_read(*next);
  ASSERT_TRUE(read.has_value()) << "no datagram from the kernel";
  EXPECT_TRUE(udp_checksum_complete(*read)) << "the offloads outlived the descriptor";
}

}  // namespace
}  // namespace tapstack::link
