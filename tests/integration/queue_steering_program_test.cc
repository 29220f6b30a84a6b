// The TAP's queue steering program (stack/link/bpf/queue_steering.bpf.c) run by the kernel on
// crafted frames (BPF_PROG_TEST_RUN): for IPv4 TCP frames in either direction it returns exactly
// tcp::steering_hash with the key it was loaded with, so the engine's choice of port and the
// kernel's choice of queue agree, and for ICMP errors quoting a TCP header the hash of the quoted
// tuple, so they reach the connection's loop; other frames go to queue 0. Needs CAP_BPF, as the
// rest of this suite needs root; no namespace, nothing is sent.
#include "stack/link/queue_steering_program.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "stack/header/bytes.h"
#include "stack/header/ethernet.h"
#include "stack/header/icmp.h"
#include "stack/header/ipv4.h"
#include "stack/tcp/queue_steering.h"

namespace tapstack::link {
namespace {

using Bytes = std::vector<uint8_t>;
using tcp::FourTuple;

constexpr tcp::SipKey kKey{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
const MacAddress kMacA{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddress kMacB{{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;
constexpr Ipv4Address kUs{0xc6120002}, kRouter{0xc6120001};

// An Ethernet frame holding an IPv4 datagram from `source` to `destination` of `protocol`, with
// `ip_options` bytes of IP options (a multiple of 4), `fragment` as the IP header's flags and
// offset field, and `payload` bytes (zeroes) after the IP header.
Bytes ipv4_frame(Ipv4Address source, Ipv4Address destination, uint8_t protocol, size_t ip_options,
                 uint16_t fragment, size_t payload) {
  const size_t ip_length = 20 + ip_options;
  Bytes f(14 + ip_length + payload, 0);
  header::write_ethernet(f.data(), kMacB, kMacA, header::kEtherTypeIpv4);
  uint8_t* ip = f.data() + 14;
  header::write_ipv4(ip, source, destination, protocol, static_cast<uint16_t>(ip_length + payload),
                     1, 64);
  ip[0] = static_cast<uint8_t>(0x40 | ip_length / 4);
  header::store16(ip + 6, fragment);
  for (size_t i = 20; i < ip_length; ++i) ip[i] = 1;  // NOPs
  return f;
}

// An IPv4 frame from t.local:local_port to t.remote:remote_port with `ip_options` bytes of IP
// options, a 20-byte transport header of `protocol` and `fragment` as the IP header's flags and
// offset field.
Bytes frame_of(const FourTuple& t, uint8_t protocol = kTcp, size_t ip_options = 0,
               uint16_t fragment = 0x4000) {
  Bytes f = ipv4_frame(t.local.v4(), t.remote.v4(), protocol, ip_options, fragment, 20);
  uint8_t* transport = f.data() + 14 + 20 + ip_options;
  header::store16(transport, t.local_port);
  header::store16(transport + 2, t.remote_port);
  header::store32(transport + 4, 0x01020304);  // the sequence number an error quotes
  transport[12] = 5 << 4;
  transport[13] = 0x02;  // SYN
  return f;
}

// What an ICMP error quotes of frame_of(t, protocol, ip_options, fragment): its IP header and
// the first `transport` bytes after it (RFC 792: at least 8).
Bytes quote_of(const FourTuple& t, size_t transport = 8, uint8_t protocol = kTcp,
               size_t ip_options = 0, uint16_t fragment = 0x4000) {
  Bytes f = frame_of(t, protocol, ip_options, fragment);
  return Bytes(f.begin() + 14,
               f.begin() + static_cast<ptrdiff_t>(14 + 20 + ip_options + transport));
}

// An ICMP message of `type` and `code` with `body` after its 8-byte header, from a router to us,
// in a datagram with `ip_options` bytes of IP options and `fragment` as its flags and offset.
Bytes icmp_of(uint8_t type, uint8_t code, const Bytes& body, size_t ip_options = 0,
              uint16_t fragment = 0x4000) {
  Bytes f = ipv4_frame(kRouter, kUs, kIcmp, ip_options, fragment, 8 + body.size());
  header::write_icmp(f.data() + 14 + 20 + ip_options, type, code, 0, body);
  return f;
}

// A random tuple: on even `i` anywhere in the address space, on odd `i` ours and a peer's on our
// subnet.
FourTuple random_tuple(std::mt19937_64& random, int i) {
  uint64_t r = random();
  uint64_t s = random();
  return FourTuple{Ipv4Address{i % 2 ? kUs.value : static_cast<uint32_t>(r)},
                   Ipv4Address{i % 2 ? 0xc6120000u | static_cast<uint32_t>(r & 0xff)
                                     : static_cast<uint32_t>(r >> 32)},
                   static_cast<uint16_t>(s), static_cast<uint16_t>(s >> 16)};
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
    const FourTuple t = random_tuple(random, i);
    const uint32_t expected = tcp::steering_hash(t, kKey);
    const size_t ip_options = random() % 11 * 4;  // IHL 5 to 15
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

// The errors TCP acts on (net::icmp_error_reason), every code of them (frag-needed included):
// the loop that owns the quoted connection is the one that can act on it.
TEST_F(QueueSteeringProgramTest, IcmpErrorsReturnTheSteeringHashOfTheTupleTheyQuote) {
  struct Error {
    uint8_t type;
    uint8_t codes;
  };
  constexpr Error kErrors[] = {{3, 16}, {11, 2}, {12, 3}};  // unreachable, time exceeded, parameter
  std::mt19937_64 random(11);
  for (int i = 0; i < 2000; ++i) {
    const FourTuple t = random_tuple(random, i);
    const uint64_t r = random();
    const Error& error = kErrors[r % 3];
    const auto code = static_cast<uint8_t>((r >> 8) % error.codes);
    const size_t outer_options = (r >> 16) % 11 * 4;
    const size_t quoted_options = (r >> 24) % 11 * 4;
    const size_t transport = 8 + (r >> 32) % 13;  // 8 to 20 bytes of the TCP header
    // The error quotes our segment (t.local to t.remote); the hash is the connection's.
    const Bytes quote = quote_of(t, transport, kTcp, quoted_options);
    ASSERT_EQ(run(icmp_of(error.type, code, quote, outer_options)), tcp::steering_hash(t, kKey))
        << "error " << i << ": type " << int{error.type} << " code " << int{code};
  }
}

TEST_F(QueueSteeringProgramTest, IcmpWithoutAQuotedTcpHeaderGoesToQueueZero) {
  FourTuple t{kUs, Ipv4Address{0xc6130005}, 40000, 80};
  const Bytes quote = quote_of(t);
  ASSERT_EQ(run(icmp_of(3, 1, quote)), tcp::steering_hash(t, kKey));  // host unreachable

  EXPECT_EQ(run(icmp_of(8, 0, quote)), 0u) << "echo request";
  EXPECT_EQ(run(icmp_of(0, 0, quote)), 0u) << "echo reply";
  EXPECT_EQ(run(icmp_of(5, 1, quote)), 0u) << "redirect";
  EXPECT_EQ(run(icmp_of(4, 0, quote)), 0u) << "source quench";

  EXPECT_EQ(run(icmp_of(3, 1, quote_of(t, 7))), 0u) << "7 bytes of the TCP header";
  EXPECT_EQ(run(icmp_of(3, 1, quote_of(t, 0))), 0u) << "no TCP header";
  EXPECT_EQ(run(icmp_of(3, 1, Bytes(quote.begin(), quote.begin() + 19))), 0u)
      << "the quoted IP header cut short";
  Bytes options_then_short = quote_of(t, 8, kTcp, 8);
  options_then_short.resize(20 + 8 + 4);
  EXPECT_EQ(run(icmp_of(3, 1, options_then_short)), 0u) << "4 bytes after quoted IP options";
  Bytes padded = icmp_of(3, 1, quote);
  header::store16(padded.data() + 14 + 2, static_cast<uint16_t>(20 + 8 + 20 + 4));
  EXPECT_EQ(run(padded), 0u) << "the quote's last 4 bytes past the datagram (padding)";

  EXPECT_EQ(run(icmp_of(3, 3, quote_of(t, 8, kUdp))), 0u) << "quoted UDP";
  EXPECT_EQ(run(icmp_of(11, 0, quote_of(t, 8, kIcmp))), 0u) << "quoted ICMP";
  EXPECT_EQ(run(icmp_of(3, 1, quote_of(t, 8, kTcp, 0, 0x2000))), 0u) << "quoted first fragment";
  EXPECT_EQ(run(icmp_of(3, 1, quote_of(t, 8, kTcp, 0, 0x0010))), 0u) << "quoted later fragment";
  Bytes short_ihl = quote;
  short_ihl[0] = 0x44;
  EXPECT_EQ(run(icmp_of(3, 1, short_ihl)), 0u) << "quoted IHL 4";
  Bytes bad_version = quote;
  bad_version[0] = 0x65;
  EXPECT_EQ(run(icmp_of(3, 1, bad_version)), 0u) << "quoted IP version 6";
  EXPECT_EQ(run(icmp_of(3, 1, quote, 0, 0x2000)), 0u) << "the error itself a fragment";
}

}  // namespace
}  // namespace tapstack::link
