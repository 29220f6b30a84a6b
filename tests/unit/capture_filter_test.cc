// CaptureFilter: TCP frames by port, address, peer prefix and 4-tuple, seen from this stack in
// either direction; handshake-only mode keeps SYNs, RSTs and the ACK that completes each
// handshake, nothing else. Frames are made with libtins.
#include "stack/capture/capture_filter.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

namespace tapstack::capture {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint8_t kSyn = Tins::TCP::SYN;
constexpr uint8_t kAck = Tins::TCP::ACK;
constexpr uint8_t kRst = Tins::TCP::RST;
constexpr uint8_t kPsh = Tins::TCP::PSH;

constexpr char kOurs[] = "198.18.0.2";
constexpr char kPeer[] = "198.18.0.1";

struct Seg {
  uint16_t local_port = 80;
  uint16_t peer_port = 40000;
  uint8_t flags = kAck;
  uint32_t seq = 0;
  uint32_t ack = 0;
  std::string peer = kPeer;
};

// The frame of `s` going `direction`, IPv4 or IPv6 by the peer's address.
Bytes frame(Direction direction, const Seg& s) {
  const bool received = direction == Direction::kReceived;
  Tins::TCP tcp(received ? s.local_port : s.peer_port, received ? s.peer_port : s.local_port);
  tcp.flags(s.flags);
  tcp.seq(s.seq);
  tcp.ack_seq(s.ack);
  const bool v6 = s.peer.find(':') != std::string::npos;
  const std::string ours = v6 ? "2001:db8::2" : kOurs;
  const std::string& src = received ? s.peer : ours;
  const std::string& dst = received ? ours : s.peer;
  Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
  if (v6) {
    Tins::EthernetII packet = eth / Tins::IPv6(dst, src) / tcp;
    return packet.serialize();
  }
  Tins::EthernetII packet = eth / Tins::IP(dst, src) / tcp;
  return packet.serialize();
}

Bytes arp_frame() {
  Tins::EthernetII eth = Tins::ARP::make_arp_request(kOurs, kPeer, "02:00:00:00:00:01");
  return eth.serialize();
}

bool takes(CaptureFilter& f, Direction d, const Seg& s) {
  return f.match(d, frame(d, s));
}

TEST(CaptureFilter, WithoutCriteriaEveryFrameIsTaken) {
  CaptureFilter f(FilterSpec{});
  EXPECT_TRUE(f.match(Direction::kReceived, arp_frame()));
  EXPECT_TRUE(takes(f, Direction::kSent, {}));
  EXPECT_TRUE(f.match(Direction::kReceived, Bytes{1, 2, 3}));
}

TEST(CaptureFilter, APortTakesItsSegmentsBothWaysAndNothingElse) {
  CaptureFilter f(FilterSpec{.local_port = 80});
  EXPECT_TRUE(takes(f, Direction::kReceived, {.local_port = 80}));
  EXPECT_TRUE(takes(f, Direction::kSent, {.local_port = 80}));
  EXPECT_FALSE(takes(f, Direction::kReceived, {.local_port = 81}));
  // The peer's port 80 is not ours.
  EXPECT_FALSE(takes(f, Direction::kSent, {.local_port = 40000, .peer_port = 80}));
  EXPECT_FALSE(f.match(Direction::kReceived, arp_frame()));
  EXPECT_TRUE(takes(f, Direction::kReceived, {.local_port = 80, .peer = "2001:db8::1"}));
}

TEST(CaptureFilter, PeerPrefixAndFourTuple) {
  CaptureFilter prefix(FilterSpec{.peer = tcp::IpPrefix::parse("198.18.0.0/31")});
  EXPECT_TRUE(takes(prefix, Direction::kReceived, {.peer = "198.18.0.1"}));
  EXPECT_TRUE(takes(prefix, Direction::kSent, {.peer = "198.18.0.1"}));
  EXPECT_FALSE(takes(prefix, Direction::kReceived, {.peer = "198.18.0.5"}));

  CaptureFilter tuple(FilterSpec{.local_port = 80,
                                 .local_address = IpAddress::parse(kOurs),
                                 .peer = tcp::IpPrefix::parse("198.18.0.1/32"),
                                 .peer_port = 40000});
  EXPECT_TRUE(takes(tuple, Direction::kReceived, {}));
  EXPECT_TRUE(takes(tuple, Direction::kSent, {}));
  EXPECT_FALSE(takes(tuple, Direction::kReceived, {.peer_port = 40001}));
  EXPECT_FALSE(takes(tuple, Direction::kReceived, {.peer = "198.18.0.3"}));
  // Our other address (IPv6) is not the tuple's.
  EXPECT_FALSE(takes(tuple, Direction::kReceived, {.peer = "2001:db8::1"}));
}

TEST(CaptureFilter, HandshakeOnlyKeepsSynsRstsAndTheCompletingAck) {
  for (const char* peer : {kPeer, "2001:db8::1"}) {
    SCOPED_TRACE(peer);
    CaptureFilter f(FilterSpec{.local_port = 80, .handshake_only = true});
    const std::string p = peer;
    EXPECT_TRUE(takes(f, Direction::kReceived, {.flags = kSyn, .seq = 100, .peer = p}));
    EXPECT_TRUE(
        takes(f, Direction::kSent, {.flags = kSyn | kAck, .seq = 5000, .ack = 101, .peer = p}));
    // An ACK of something else, or from our side, is not the one.
    EXPECT_FALSE(takes(f, Direction::kReceived, {.seq = 101, .ack = 4000, .peer = p}));
    EXPECT_FALSE(takes(f, Direction::kSent, {.seq = 5001, .ack = 5001, .peer = p}));
    EXPECT_TRUE(takes(f, Direction::kReceived, {.seq = 101, .ack = 5001, .peer = p}));
    // Once only: the data and ACKs after it are not the handshake's.
    EXPECT_FALSE(takes(f, Direction::kReceived, {.seq = 101, .ack = 5001, .peer = p}));
    EXPECT_FALSE(
        takes(f, Direction::kReceived, {.flags = kPsh | kAck, .seq = 101, .ack = 5001, .peer = p}));
    EXPECT_TRUE(takes(f, Direction::kSent, {.flags = kRst, .seq = 5001, .peer = p}));
    EXPECT_FALSE(takes(f, Direction::kSent, {.local_port = 81, .flags = kSyn, .peer = p}));
  }
}

TEST(CaptureFilter, HandshakeOnlyFollowsAnActiveOpenToo) {
  // Our SYN from an ephemeral port, the peer's SYN-ACK, our ACK.
  CaptureFilter f(
      FilterSpec{.peer = tcp::IpPrefix::parse("198.18.0.1/32"), .handshake_only = true});
  const Seg base{.local_port = 50000, .peer_port = 80};
  Seg s = base;
  s.flags = kSyn;
  s.seq = 7;
  EXPECT_TRUE(takes(f, Direction::kSent, s));
  s.flags = kSyn | kAck;
  s.seq = 900;
  s.ack = 8;
  EXPECT_TRUE(takes(f, Direction::kReceived, s));
  s.flags = kAck;
  s.seq = 8;
  s.ack = 901;
  EXPECT_TRUE(takes(f, Direction::kSent, s));
  EXPECT_FALSE(takes(f, Direction::kSent, s));
}

}  // namespace
}  // namespace tapstack::capture
