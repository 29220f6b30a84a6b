// A multi-queue TAP with the queue steering program attached (TUNSETSTEERINGEBPF): every TCP
// frame the kernel sends into it arrives on the descriptor of the queue tcp::steering_queue
// names for its tuple, which is what lets an engine loop per queue pick ports for its active
// opens; frames without a TCP tuple arrive on queue 0. The kernel's SYNs towards an address
// nobody answers, from many source ports, are the traffic. Run through in_netns.sh.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/header/bytes.h"
#include "stack/link/queue_steering_program.h"
#include "stack/link/tap_device.h"
#include "stack/random.h"
#include "stack/tcp/queue_steering.h"

namespace tapstack::link {
namespace {

// Outside the 198.18.N.0/24 subnets the other integration tests number from 1.
constexpr const char* kKernelAddress = "198.19.200.1";
constexpr const char* kSilentAddress = "198.19.200.2";  // a neighbour that never answers
constexpr size_t kQueues = 2;
constexpr int kConnects = 64;

class MultiQueueTapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("TAPSTACK_NETNS"), nullptr)
        << "run through tests/integration/in_netns.sh: it creates the network namespace";
  }

  static void run(const std::string& command) {
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
};

struct TcpFrame {
  tcp::FourTuple tuple;  // from the frame's source to its destination
  uint8_t flags = 0;
};

// The tuple of an unfragmented IPv4 TCP frame; nothing for any other frame.
std::optional<TcpFrame> tcp_frame(std::span<const uint8_t> f) {
  if (f.size() < 14 + 20 || header::load16(f.data() + 12) != 0x0800) return std::nullopt;
  const uint8_t* ip = f.data() + 14;
  const size_t ip_length = (ip[0] & 0x0f) * 4u;
  if (ip[9] != 6 || (header::load16(ip + 6) & 0x3fff) || f.size() < 14 + ip_length + 20) {
    return std::nullopt;
  }
  const uint8_t* tcp = ip + ip_length;
  return TcpFrame{{Ipv4Address{header::load32(ip + 12)}, Ipv4Address{header::load32(ip + 16)},
                   header::load16(tcp), header::load16(tcp + 2)},
                  tcp[13]};
}

TEST_F(MultiQueueTapTest, KernelSynsArriveOnTheQueueTheirTupleSteersTo) {
  const tcp::SipKey key{Random::system_seed(), Random::system_seed()};
  auto taps = TapDevice::open_queues("mqtap0", kQueues);
  ASSERT_TRUE(taps.is_ok()) << taps.status().message;
  ASSERT_EQ(taps->size(), kQueues);
  auto program = QueueSteeringProgram::load(key);
  ASSERT_TRUE(program.is_ok()) << program.status().message;
  Status attached = (*program)->attach((*taps)[1].fd());  // any queue's descriptor will do
  ASSERT_TRUE(attached.is_ok()) << attached.message;
  run(std::string("ip addr add ") + kKernelAddress + "/24 dev mqtap0");
  // A permanent neighbour: the SYNs go out at once, no ARP request waits for an answer.
  run(std::string("ip neigh replace ") + kSilentAddress +
      " lladdr 02:00:00:00:00:02 nud permanent dev mqtap0");

  std::vector<int> sockets;
  for (int i = 0; i < kConnects; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockets.push_back(fd);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(80 + i % 4));
    inet_pton(AF_INET, kSilentAddress, &to.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), -1);
    ASSERT_EQ(errno, EINPROGRESS);
  }

  // Each SYN once (the kernel retransmits them after a second; the test is done by then).
  std::array<size_t, kQueues> syns{};
  size_t misplaced = 0;
  size_t other_frames_off_queue_0 = 0;
  std::vector<std::pair<uint16_t, uint16_t>> seen;  // source and destination port
  std::array<pollfd, kQueues> polls{};
  for (size_t k = 0; k < kQueues; ++k) polls[k] = {(*taps)[k].fd(), POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<uint8_t> buffer(65536);
  while (seen.size() < kConnects && std::chrono::steady_clock::now() < deadline) {
    if (poll(polls.data(), polls.size(), 100) <= 0) continue;
    for (size_t k = 0; k < kQueues; ++k) {
      ssize_t n;
      while ((n = (*taps)[k].read(buffer)) > 0) {
        auto frame = tcp_frame({buffer.data(), static_cast<size_t>(n)});
        if (!frame) {
          other_frames_off_queue_0 += k != 0;
          continue;
        }
        const uint32_t queue = tcp::steering_queue(tcp::steering_hash(frame->tuple, key), kQueues);
        misplaced += queue != k;
        // Keyed by both ports: Linux gives two connects the same ephemeral port when their
        // destinations differ, so a source port alone does not name a socket.
        const std::pair ports{frame->tuple.local_port, frame->tuple.remote_port};
        if (frame->flags == 0x02 && std::find(seen.begin(), seen.end(), ports) == seen.end()) {
          seen.push_back(ports);
          ++syns[k];
        }
      }
      ASSERT_GE(n, 0) << "reading queue " << k << ": " << strerror(errno);
    }
  }
  for (int fd : sockets) close(fd);

  EXPECT_EQ(seen.size(), static_cast<size_t>(kConnects));
  EXPECT_EQ(misplaced, 0u);
  EXPECT_EQ(other_frames_off_queue_0, 0u);
  for (size_t k = 0; k < kQueues; ++k) EXPECT_GT(syns[k], 0u) << "no SYN on queue " << k;
  std::printf("SYNs per queue: %zu, %zu\n", syns[0], syns[1]);
}

TEST_F(MultiQueueTapTest, OneQueueIsASingleQueueTapWhichRefusesMoreAndSaysHowToMakeThem) {
  auto taps = TapDevice::open_queues("mqtap1", 1);
  ASSERT_TRUE(taps.is_ok()) << taps.status().message;
  ASSERT_EQ(taps->size(), 1u);
  auto more = TapDevice::open_queues("mqtap1", 2);
  ASSERT_FALSE(more.is_ok());
  EXPECT_NE(more.status().message.find("ip tuntap add dev mqtap1 mode tap multi_queue"),
            std::string::npos)
      << more.status().message;
}

}  // namespace
}  // namespace tapstack::link
