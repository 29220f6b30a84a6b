// The TAP's queue steering program (stack/link/bpf/queue_steering.bpf.c) run by the kernel on
// crafted frames (BPF_PROG_TEST_RUN): for IPv4 TCP frames in either direction it returns exactly
// tcp::steering_hash with the key it was loaded with, so the engine's choice of port and the
// kernel's choice of queue agree; other frames go to queue 0. Needs CAP_BPF, as the rest of this
// suite needs root; no namespace, nothing is sent.
#include "stack/link/queue_steering_program.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "stack/header/bytes.h"
#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"
#include "stack/tcp/queue_steering.h"

namespace tapstack::link {
namespace {

using Bytes = std::vector<uint8_t>;
using tcp::FourTuple;

constexpr tcp::SipKey kKey{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
const MacAddress kMacA{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kMacB{{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint8_t kTcp = 6, kUdp = 17;

// An IPv4 frame from t.local:local_port to t.remote:remote_port with `ip_options` bytes of IP
// options (a multiple of 4), a 20-byte transport header of `protocol` and `fragment` as the IP
// header's flags and offset field.
Bytes frame_of(const FourTuple& t, uint8_t protocol = kTcp, size_t ip_options = 0,
               uint16_t fragment = 0x4000) {
  const size_t ip_length = 20 + ip_options;
  Bytes f(14 + ip_length + 20, 0);
  header::write_ethernet(f.data(), kMacB, kMacA, header::kEtherTypeIpv4);
  uint8_t* ip = f.data() + 14;
  header::write_ipv4(ip, t.local, t.remote, protocol, static_cast<uint16_t>(ip_length + 20), 1, 64);
  ip[0] = static_cast<uint8_t>(0x40 | ip_length / 4);
  header::store16(ip + 6, fragment);
  for (size_t i = 20; i < ip_length; ++i) ip[i] = 1;  // NOPs
  uint8_t* transport = ip + ip_length;
  header::store16(transport, t.local_port);
  header::store16(transport + 2, t.remote_port);
  transport[12] = 5 << 4;
  transport[13] = 0x02;  // SYN
  return f;
}

FourTuple reversed(const FourTuple& t) {
  return FourTuple{t.remote, t.local, t.remote_port, t.local_port};
}

class QueueSteeringProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = QueueSteeringProgram::load(kKey);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message;
    program_ = std::move(loaded.value());
  }

  uint32_t run(const Bytes& frame) const {
    auto hash = program_->run_once(frame);
    EXPECT_TRUE(hash.is_ok()) << hash.status().message;
    return hash.is_ok() ? *hash : 0xdeadbeef;
  }

  std::unique_ptr<QueueSteeringProgram> program_;
};

TEST_F(QueueSteeringProgramTest, TcpFramesInBothDirectionsReturnTheEnginesSteeringHash) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 2000; ++i) {
    uint64_t r = random();
    uint64_t s = random();
    // Ours and the peers' subnet, and the whole address space.
    FourTuple t{Ipv4Address{i % 2 ? 0xc6120002u : static_cast<uint32_t>(r)},
                Ipv4Address{i % 2 ? 0xc6120000u | static_cast<uint32_t>(r & 0xff)
                                  : static_cast<uint32_t>(r >> 32)},
                static_cast<uint16_t>(s), static_cast<uint16_t>(s >> 16)};
    const uint32_t expected = tcp::steering_hash(t, kKey);
    const size_t ip_options = (s >> 32) % 11 * 4;  // IHL 5 to 15
    ASSERT_EQ(run(frame_of(t, kTcp, ip_options)), expected) << "frame " << i;
    ASSERT_EQ(run(frame_of(reversed(t), kTcp, ip_options)), expected) << "reply " << i;
  }
}

TEST_F(QueueSteeringProgramTest, TheKeyItWasLoadedWithCounts) {
  auto other = QueueSteeringProgram::load({kKey.k0, kKey.k1 + 1});
  ASSERT_TRUE(other.is_ok()) << other.status().message;
  FourTuple t{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120001}, 40000, 80};
  auto hash = (*other)->run_once(frame_of(t));
  ASSERT_TRUE(hash.is_ok()) << hash.status().message;
  EXPECT_EQ(*hash, tcp::steering_hash(t, {kKey.k0, kKey.k1 + 1}));
  EXPECT_NE(*hash, run(frame_of(t)));
}

TEST_F(QueueSteeringProgramTest, FramesWithoutATcpTupleGoToQueueZero) {
  FourTuple t{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120001}, 40000, 80};
  ASSERT_NE(run(frame_of(t)), 0u);  // the same tuple as TCP, unfragmented

  EXPECT_EQ(run(frame_of(t, kUdp)), 0u) << "UDP";
  EXPECT_EQ(run(frame_of(t, kTcp, 0, 0x2000)), 0u) << "first fragment (MF)";
  EXPECT_EQ(run(frame_of(t, kTcp, 0, 0x0010)), 0u) << "last fragment (offset 128)";
  EXPECT_EQ(run(frame_of(t, kTcp, 0, 0x4000 | 0x2000)), 0u) << "DF and MF";

  Bytes arp(42, 0);
  header::write_ethernet(arp.data(), MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, kMacA,
                         header::kEtherTypeArp);
  EXPECT_EQ(run(arp), 0u) << "ARP";

  Bytes ipv6 = frame_of(t);
  header::store16(ipv6.data() + 12, 0x86dd);
  EXPECT_EQ(run(ipv6), 0u) << "IPv6 EtherType";

  Bytes bad_version = frame_of(t);
  bad_version[14] = 0x65;
  EXPECT_EQ(run(bad_version), 0u) << "IP version 6 in an IPv4 EtherType";

  Bytes short_ihl = frame_of(t);
  short_ihl[14] = 0x44;
  EXPECT_EQ(run(short_ihl), 0u) << "IHL 4";

  Bytes truncated = frame_of(t);
  truncated.resize(14 + 20 + 2);  // the ports cut in half
  EXPECT_EQ(run(truncated), 0u) << "truncated TCP header";
}

}  // namespace
}  // namespace tapstack::link
