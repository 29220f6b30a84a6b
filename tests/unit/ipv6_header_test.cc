// The IPv6 header view, its walk over extension headers and write_ipv6: every parse rule and every
// reason to drop on packets built by hand, a random walk that must stay in bounds, and libtins as
// the independent implementation (packets it builds read back through the view; packets the
// writer builds dissect in libtins to the same fields).
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <variant>
#include <vector>

#include "stack/header/ethernet.h"
#include "stack/header/ipv6.h"
#include "stack/header/ipv6_address.h"
#include "tests/unit/libtins_addresses.h"

namespace tapstack::header {
namespace {

using Bytes = std::vector<uint8_t>;
using header_test::Ours;
using header_test::Theirs;
namespace nh = ipv6_next_header;

constexpr uint8_t kTcp = 6;
constexpr uint8_t kExperimental = 253;      // RFC 3692: no libtins dissector claims it
constexpr uint8_t kSkippableOption = 0x1e;  // RFC 4727's experiment: top bits 00, skip if unknown

// A packet by hand (no code under test): 2001:db8::1 to 2001:db8::2, hop limit 64, Next Header
// `first`, then `rest` as the payload.
Bytes Packet(uint8_t first, const Bytes& rest) {
  Bytes p(40, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(rest.size() >> 8);
  p[5] = static_cast<uint8_t>(rest.size());
  p[6] = first;
  p[7] = 64;
  for (size_t at : {8, 24}) {
    p[at] = 0x20;
    p[at + 1] = 0x01;
    p[at + 2] = 0x0d;
    p[at + 3] = 0xb8;
  }
  p[23] = 1;
  p[39] = 2;
  p.insert(p.end(), rest.begin(), rest.end());
  return p;
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// An extension header naming `next` with `body` after the two bytes of Next Header and length.
Bytes Ext(uint8_t next, const Bytes& body) {
  EXPECT_EQ((body.size() + 2) % 8, 0u);
  Bytes h{next, static_cast<uint8_t>((body.size() + 2) / 8 - 1)};
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

// An options header of `size` bytes (a multiple of 8) filled with options to skip, no padding.
Bytes Options(uint8_t next, size_t size) {
  Bytes body;
  size_t left = size - 2;
  while (left >= 2) {
    const size_t length = std::min<size_t>(left - 2, 255);
    body.push_back(kSkippableOption);
    body.push_back(static_cast<uint8_t>(length));
    body.insert(body.end(), length, 0x5a);
    left -= length + 2;
  }
  if (left == 1) body.push_back(0);  // Pad1
  return Ext(next, body);
}

Bytes Routing(uint8_t next, uint8_t type, uint8_t segments_left) {
  return Ext(next, {type, segments_left, 0, 0, 0, 0});
}

Bytes Fragment(uint8_t next, uint16_t offset, bool more, uint8_t reserved_bits = 0) {
  const auto field = static_cast<uint16_t>(offset << 3 | reserved_bits << 1 | (more ? 1 : 0));
  return {next, 0, static_cast<uint8_t>(field >> 8), static_cast<uint8_t>(field), 1, 2, 3, 4};
}

const Bytes kSegment(20, 0xab);  // stands for a TCP header

Ipv6Walk Walk(const Bytes& packet) {
  auto ip = Ipv6View::parse(packet);
  EXPECT_TRUE(ip);
  return ip ? ip->find_upper_layer() : Ipv6Walk{Ipv6Rejection{}};
}

// The walk must reach the upper layer `protocol` at `offset`, named by the byte at
// `next_header_offset`.
void ExpectUpper(const Bytes& packet, uint8_t protocol, size_t offset, size_t next_header_offset) {
  Ipv6Walk walk = Walk(packet);
  const auto* upper = std::get_if<Ipv6UpperLayer>(&walk);
  ASSERT_NE(upper, nullptr) << "dropped: " << int(std::get<Ipv6Rejection>(walk).reason);
  EXPECT_EQ(upper->protocol, protocol);
  EXPECT_EQ(upper->offset, offset);
  EXPECT_EQ(upper->next_header_offset, next_header_offset);
  EXPECT_EQ(packet[next_header_offset], protocol);
  EXPECT_EQ(upper->payload.data(), packet.data() + offset);
  EXPECT_EQ(upper->payload.size(), packet.size() - offset);
}

void ExpectDrop(const Bytes& packet, Ipv6Drop reason, size_t pointer) {
  Ipv6Walk walk = Walk(packet);
  const auto* rejection = std::get_if<Ipv6Rejection>(&walk);
  ASSERT_NE(rejection, nullptr) << "delivered";
  EXPECT_EQ(*rejection, (Ipv6Rejection{reason, pointer}));
}

TEST(Ipv6Header, ReadsTheFixedHeader) {
  Bytes p = Packet(kTcp, kSegment);
  // Traffic class 0xb4 and flow label 0xabcde across the first four bytes.
  p[0] = 0x6b;
  p[1] = 0x4a;
  p[2] = 0xbc;
  p[3] = 0xde;
  p[7] = 17;
  auto ip = Ipv6View::parse(p);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->traffic_class(), 0xb4);
  EXPECT_EQ(ip->flow_label(), 0xabcdeu);
  EXPECT_EQ(ip->payload_length(), 20);
  EXPECT_EQ(ip->next_header(), kTcp);
  EXPECT_EQ(ip->hop_limit(), 17);
  EXPECT_EQ(ip->source().to_string(), "2001:db8::1");
  EXPECT_EQ(ip->destination().to_string(), "2001:db8::2");
  EXPECT_EQ(ip->payload().data(), p.data() + 40);
  EXPECT_EQ(ip->payload().size(), 20u);
}

TEST(Ipv6Header, RejectsOtherVersionsAndShortPackets) {
  const Bytes good = Packet(kTcp, kSegment);
  for (uint8_t version : {0, 4, 5, 7, 15}) {
    Bytes bad = good;
    bad[0] = static_cast<uint8_t>(version << 4);
    EXPECT_FALSE(Ipv6View::parse(bad)) << int{version};
    EXPECT_FALSE(Ipv6View::parse_quoted(bad)) << int{version};
  }
  // Every prefix: a header needs 40 bytes, and the payload length must be there in full.
  for (size_t n = 0; n <= good.size(); ++n) {
    const Bytes prefix(good.begin(), good.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_EQ(Ipv6View::parse(prefix).has_value(), n == good.size()) << n;
    auto quoted = Ipv6View::parse_quoted(prefix);
    ASSERT_EQ(quoted.has_value(), n >= 40) << n;
    if (quoted) {
      EXPECT_EQ(quoted->payload().size(), n - 40) << n;
      EXPECT_EQ(quoted->payload_length(), 20);  // the field, not what is there
    }
  }
  Bytes claims_more = good;
  claims_more[5] = 21;
  EXPECT_FALSE(Ipv6View::parse(claims_more));
  claims_more[4] = 0xff;
  EXPECT_FALSE(Ipv6View::parse(claims_more));
}

TEST(Ipv6Header, CutsTheBytesBeyondThePayloadLength) {
  Bytes p = Packet(kTcp, Bytes(6, 0x11));
  p.insert(p.end(), 12, 0xee);  // Ethernet padding after a short packet
  auto ip = Ipv6View::parse(p);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->payload().size(), 6u);
  EXPECT_EQ(std::get<Ipv6UpperLayer>(ip->find_upper_layer()).payload.size(), 6u);

  p[5] = 0;  // payload length 0: no jumbograms, just an empty payload
  ip = Ipv6View::parse(p);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->payload().empty());
}

TEST(Ipv6ExtensionHeaders, NoneLeadsStraightToTheUpperLayer) {
  ExpectUpper(Packet(kTcp, kSegment), kTcp, 40, 6);
  ExpectUpper(Packet(kTcp, {}), kTcp, 40, 6);  // an empty upper layer is its parser's to judge
  // ESP and AH are not walked: without IPsec they are the upper layer, to be refused by protocol.
  ExpectUpper(Packet(50, kSegment), 50, 40, 6);
  ExpectUpper(Packet(51, kSegment), 51, 40, 6);
}

TEST(Ipv6ExtensionHeaders, SkipsEachKind) {
  ExpectUpper(Packet(nh::kHopByHop, Cat({Options(kTcp, 8), kSegment})), kTcp, 48, 40);
  ExpectUpper(Packet(nh::kDestinationOptions, Cat({Options(kTcp, 16), kSegment})), kTcp, 56, 40);
  // Routing with no segments left is ignored whatever its type (RFC 8200 §4.4): 0 (RFC 5095's
  // deprecated source route), 2 (Mobile IPv6), 4 (segment routing), unassigned.
  for (uint8_t type : {0, 2, 3, 4, 200}) {
    ExpectUpper(Packet(nh::kRouting, Cat({Routing(kTcp, type, 0), kSegment})), kTcp, 48, 40);
  }
  // An atomic fragment (offset 0, M clear) is a whole packet (RFC 6946), reserved bits or not.
  ExpectUpper(Packet(nh::kFragment, Cat({Fragment(kTcp, 0, false), kSegment})), kTcp, 48, 40);
  ExpectUpper(Packet(nh::kFragment, Cat({Fragment(kTcp, 0, false, 3), kSegment})), kTcp, 48, 40);

  // All of them in a chain; the upper layer's Next Header field is in the last.
  const Bytes chain = Cat(
      {Options(nh::kDestinationOptions, 8), Options(nh::kRouting, 24), Routing(nh::kFragment, 4, 0),
       Fragment(nh::kDestinationOptions, 0, false), Options(kTcp, 8), kSegment});
  ExpectUpper(Packet(nh::kHopByHop, chain), kTcp, 40 + 8 + 24 + 8 + 8 + 8, 40 + 8 + 24 + 8 + 8);
}

TEST(Ipv6ExtensionHeaders, OptionsAreCheckedOneByOne) {
  auto dest = [](const Bytes& options) {
    return Packet(nh::kDestinationOptions, Cat({Ext(kTcp, options), kSegment}));
  };
  // Unknown options whose type says "skip" (top bits 00): Router Alert, Tunnel Limit, others.
  ExpectUpper(dest({5, 2, 0, 0, 1, 0}), kTcp, 48, 40);
  ExpectUpper(dest({4, 1, 3, 0x1e, 0, 0}), kTcp, 48, 40);
  // Padding: Pad1 runs and PadN, up to 7 bytes together; a real option starts a new run.
  ExpectUpper(dest({0, 0, 0, 0, 0, 0}), kTcp, 48, 40);
  ExpectUpper(dest({1, 4, 0, 0, 0, 0}), kTcp, 48, 40);
  ExpectUpper(dest({1, 4, 0, 0, 0, 0, 0x1e, 0, 1, 4, 0, 0, 0, 0}), kTcp, 56, 40);
  ExpectUpper(dest({1, 3, 0, 0, 0, 0x1e, 0, 0, 1, 4, 0, 0, 0, 0}), kTcp, 56, 40);

  // Types whose top bits say "discard" (01), "discard and answer" (10), "... unless multicast"
  // (11, Jumbo Payload among them), in either options header; the pointer is at the type.
  for (uint8_t type : {0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xff}) {
    ExpectDrop(dest({1, 0, type, 2, 0, 0}), Ipv6Drop::kUnrecognizedOption, 44);
    ExpectDrop(Packet(nh::kHopByHop, Cat({Ext(kTcp, {type, 0, 1, 2, 0, 0}), kSegment})),
               Ipv6Drop::kUnrecognizedOption, 42);
  }
  // Malformed: an option past the end of its header, a type without its length byte, more than
  // 7 bytes of padding in a row.
  ExpectDrop(dest({0x1e, 5, 0, 0, 0, 0}), Ipv6Drop::kMalformed, 42);
  ExpectDrop(dest({1, 3, 0, 0, 0, 0x1e}), Ipv6Drop::kMalformed, 47);
  ExpectDrop(dest({1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), Ipv6Drop::kMalformed, 42);
  ExpectDrop(dest({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), Ipv6Drop::kMalformed, 49);
  ExpectDrop(dest({0, 0, 0, 1, 4, 0, 0, 0, 0, 0x1e, 0, 0, 0, 0}), Ipv6Drop::kMalformed, 45);
}

TEST(Ipv6ExtensionHeaders, EachReasonToDrop) {
  // Fragments: any offset or more to come (the pointer is the fragment header).
  ExpectDrop(Packet(nh::kFragment, Cat({Fragment(kTcp, 0, true), kSegment})), Ipv6Drop::kFragment,
             40);
  ExpectDrop(Packet(nh::kFragment, Cat({Fragment(kTcp, 1, false), kSegment})), Ipv6Drop::kFragment,
             40);
  ExpectDrop(Packet(nh::kFragment, Cat({Fragment(kTcp, 0x1fff, true), kSegment})),
             Ipv6Drop::kFragment, 40);
  ExpectDrop(Packet(nh::kHopByHop, Cat({Options(nh::kFragment, 8), Fragment(kTcp, 8, true)})),
             Ipv6Drop::kFragment, 48);

  // Hop-by-Hop anywhere but first: the pointer is the Next Header field that names it.
  ExpectDrop(Packet(nh::kDestinationOptions, Cat({Options(nh::kHopByHop, 8), Options(kTcp, 8)})),
             Ipv6Drop::kHopByHopNotFirst, 40);
  ExpectDrop(Packet(nh::kHopByHop, Cat({Options(nh::kHopByHop, 8), Options(kTcp, 8)})),
             Ipv6Drop::kHopByHopNotFirst, 40);

  // A Routing header with segments left: the pointer is its Routing Type (RFC 8200 §4.4).
  ExpectDrop(Packet(nh::kRouting, Cat({Routing(kTcp, 0, 1), kSegment})),
             Ipv6Drop::kRoutingSegmentsLeft, 42);
  ExpectDrop(Packet(nh::kDestinationOptions,
                    Cat({Options(nh::kRouting, 8), Routing(kTcp, 4, 255), kSegment})),
             Ipv6Drop::kRoutingSegmentsLeft, 50);

  // No Next Header, straight away or after a header: the pointer is the field that says 59.
  ExpectDrop(Packet(nh::kNoNextHeader, kSegment), Ipv6Drop::kNoNextHeader, 6);
  ExpectDrop(Packet(nh::kHopByHop, Cat({Options(nh::kNoNextHeader, 8), kSegment})),
             Ipv6Drop::kNoNextHeader, 40);

  // Truncated: fewer than 8 bytes for a header, or fewer than its length says.
  ExpectDrop(Packet(nh::kDestinationOptions, {kTcp, 0, 1, 4}), Ipv6Drop::kMalformed, 40);
  ExpectDrop(Packet(nh::kFragment, {kTcp, 0, 0, 0, 1, 2, 3}), Ipv6Drop::kMalformed, 40);
  ExpectDrop(Packet(nh::kHopByHop, {}), Ipv6Drop::kMalformed, 40);
  Bytes longer = Options(kTcp, 16);
  longer.resize(15);
  ExpectDrop(Packet(nh::kDestinationOptions, longer), Ipv6Drop::kMalformed, 40);
  ExpectDrop(Packet(nh::kDestinationOptions,
                    Cat({Options(nh::kRouting, 8), Bytes{kTcp, 2, 0, 0, 0, 0, 0, 0}})),
             Ipv6Drop::kMalformed, 48);
}

TEST(Ipv6ExtensionHeaders, ChainIsBounded) {
  // kMaxExtensionHeaders headers are walked; one more is too many.
  Bytes eight;
  for (int i = 0; i < 7; ++i) eight = Cat({eight, Options(nh::kDestinationOptions, 8)});
  eight = Cat({eight, Options(kTcp, 8)});
  ExpectUpper(Packet(nh::kDestinationOptions, Cat({eight, kSegment})), kTcp, 40 + 64, 40 + 56);
  ExpectDrop(
      Packet(nh::kDestinationOptions, Cat({Options(nh::kDestinationOptions, 8), eight, kSegment})),
      Ipv6Drop::kChainTooLong, 40 + 64);
  // So are kMaxExtensionBytes of headers, and not one header more.
  static_assert(Ipv6View::kMaxExtensionBytes == 1024);
  const Bytes big = Options(nh::kDestinationOptions, 1016);
  ExpectUpper(Packet(nh::kDestinationOptions, Cat({big, Options(kTcp, 8), kSegment})), kTcp,
              40 + 1024, 40 + 1016);
  ExpectDrop(Packet(nh::kDestinationOptions,
                    Cat({big, Options(nh::kDestinationOptions, 8), Options(kTcp, 8), kSegment})),
             Ipv6Drop::kChainTooLong, 40 + 1024);
  ExpectDrop(Packet(nh::kDestinationOptions, Cat({Options(kTcp, 1032), kSegment})),
             Ipv6Drop::kChainTooLong, 40);
  ExpectDrop(Packet(nh::kHopByHop, Cat({Options(kTcp, 2048), kSegment})), Ipv6Drop::kChainTooLong,
             40);
}

TEST(Ipv6ExtensionHeaders, RandomChainsStayInBounds) {
  // Headers of every kind with random lengths and contents: whatever the walk decides, it must
  // point no further than the packet's end, and an upper layer must be named where it says.
  const uint8_t kinds[] = {
      nh::kHopByHop, nh::kRouting, nh::kFragment, nh::kDestinationOptions, nh::kNoNextHeader, kTcp,
  };
  std::mt19937 rng(8200);
  size_t delivered = 0;
  for (int i = 0; i < 50000; ++i) {
    Bytes rest(rng() % 200);
    for (auto& b : rest) b = static_cast<uint8_t>(rng() % 4 == 0 ? rng() % 8 : rng());
    for (size_t at = 0; at + 1 < rest.size(); at += 8) {
      if (rng() % 4 == 0) continue;
      rest[at] = kinds[rng() % 6];
      rest[at + 1] = static_cast<uint8_t>(rng() % 8 == 0 ? rng() : 0);
    }
    const Bytes p = Packet(kinds[rng() % 6], rest);
    const Ipv6Walk walk = Walk(p);
    if (const auto* upper = std::get_if<Ipv6UpperLayer>(&walk)) {
      ++delivered;
      ASSERT_GE(upper->offset, 40u);
      ASSERT_LE(upper->offset, p.size());
      ASSERT_LE(upper->offset - 40, Ipv6View::kMaxExtensionBytes);
      ASSERT_EQ(p[upper->next_header_offset], upper->protocol);
      ASSERT_EQ(upper->payload.data(), p.data() + upper->offset);
      ASSERT_EQ(upper->payload.size(), p.size() - upper->offset);
    } else {
      const auto& rejection = std::get<Ipv6Rejection>(walk);
      // A header that is missing altogether is reported where it would start: the end.
      const bool at_a_header =
          rejection.reason == Ipv6Drop::kMalformed || rejection.reason == Ipv6Drop::kChainTooLong;
      ASSERT_LT(rejection.pointer, p.size() + (at_a_header ? 1 : 0)) << int(rejection.reason);
      if (rejection.reason == Ipv6Drop::kNoNextHeader) {
        ASSERT_EQ(p[rejection.pointer], 59);
      }
      if (rejection.reason == Ipv6Drop::kHopByHopNotFirst) {
        ASSERT_EQ(p[rejection.pointer], 0);
      }
    }
  }
  EXPECT_GT(delivered, 1000u);  // the generator reaches the upper layer often enough to matter
}

TEST(Ipv6Libtins, ViewReadsLibtinsPackets) {
  std::mt19937 rng(2460);
  for (int i = 0; i < 500; ++i) {
    auto address = [&] {
      Ipv6Address a;
      for (auto& b : a.bytes) b = static_cast<uint8_t>(rng() % 3 == 0 ? 0 : rng());
      return a;
    };
    const Ipv6Address src = address();
    const Ipv6Address dst = address();
    const auto traffic_class = static_cast<uint8_t>(rng());
    const uint32_t flow_label = rng() & 0xfffff;
    const auto hop_limit = static_cast<uint8_t>(rng());
    const Bytes data(rng() % 100, 0x42);
    Tins::IPv6 ip(Theirs(dst), Theirs(src));
    ip.traffic_class(traffic_class);
    ip.flow_label(flow_label);
    ip.hop_limit(hop_limit);
    Tins::TCP tcp(443, 40000);
    Tins::EthernetII eth = Tins::EthernetII() / ip / tcp / Tins::RawPDU(data);
    const Bytes frame = eth.serialize();
    SCOPED_TRACE(i);

    auto ether = EthernetView::parse(frame);
    ASSERT_TRUE(ether);
    EXPECT_EQ(ether->ether_type(), kEtherTypeIpv6);
    auto view = Ipv6View::parse(ether->payload());
    ASSERT_TRUE(view);
    EXPECT_EQ(view->traffic_class(), traffic_class);
    EXPECT_EQ(view->flow_label(), flow_label);
    EXPECT_EQ(view->hop_limit(), hop_limit);
    EXPECT_EQ(view->payload_length(), 20 + data.size());
    EXPECT_EQ(view->next_header(), kTcp);
    EXPECT_EQ(view->source(), src);
    EXPECT_EQ(view->destination(), dst);
    const auto upper = std::get<Ipv6UpperLayer>(view->find_upper_layer());
    EXPECT_EQ(upper.protocol, kTcp);
    EXPECT_EQ(upper.offset, 40u);
    EXPECT_EQ(load16(upper.payload.data()), 40000);
    EXPECT_EQ(load16(upper.payload.data() + 2), 443);
    if (HasFailure()) return;
  }
}

TEST(Ipv6Libtins, WalkAgreesWithLibtinsExtensionHeaders) {
  // libtins 4.0 writes each header's data as given after Next Header and a length of data/8, so
  // the data here is 6 bytes more than a multiple of 8.
  const Bytes hop_by_hop = {5, 2, 0, 0, 1, 0};  // Router Alert
  const Bytes destination = {kSkippableOption, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const Bytes routing = {4, 0, 0, 0, 0, 0};  // segment routing, no segments left
  Tins::IPv6 ip("2001:db8::2", "2001:db8::1");
  ip.add_header(
      Tins::IPv6::ext_header(Tins::IPv6::HOP_BY_HOP, hop_by_hop.size(), hop_by_hop.data()));
  ip.add_header(Tins::IPv6::ext_header(Tins::IPv6::DESTINATION_OPTIONS, destination.size(),
                                       destination.data()));
  ip.add_header(Tins::IPv6::ext_header(Tins::IPv6::ROUTING, routing.size(), routing.data()));
  Tins::TCP tcp(80, 1234);
  const Bytes packet = (ip / tcp).serialize();

  ExpectUpper(packet, kTcp, 72, 64);
  const Tins::IPv6 dissected(packet.data(), static_cast<uint32_t>(packet.size()));
  EXPECT_EQ(dissected.headers().size(), 3u);
  EXPECT_EQ(dissected.header_size(), 72u);
  const auto* theirs = dissected.find_pdu<Tins::TCP>();
  ASSERT_NE(theirs, nullptr);
  EXPECT_EQ(theirs->sport(), 1234);

  // A first fragment: libtins stops at it too (its payload is raw bytes, no TCP).
  const Bytes fragment = {0, 1, 0, 0, 0, 9};  // offset 0, M set, identification 9
  Tins::IPv6 first("2001:db8::2", "2001:db8::1");
  first.add_header(Tins::IPv6::ext_header(Tins::IPv6::FRAGMENT, fragment.size(), fragment.data()));
  const Bytes fragmented = (first / Tins::TCP(80, 1234)).serialize();
  ExpectDrop(fragmented, Ipv6Drop::kFragment, 40);
  const Tins::IPv6 dissected_fragment(fragmented.data(), static_cast<uint32_t>(fragmented.size()));
  EXPECT_EQ(dissected_fragment.find_pdu<Tins::TCP>(), nullptr);
}

TEST(Ipv6Libtins, WriterOutputDissectsInLibtins) {
  std::mt19937 rng(8201);
  for (int i = 0; i < 500; ++i) {
    Ipv6Address src;
    Ipv6Address dst;
    for (auto& b : src.bytes) b = static_cast<uint8_t>(rng());
    for (auto& b : dst.bytes) b = static_cast<uint8_t>(rng());
    const auto flow_label = static_cast<uint32_t>(rng());  // bits above 20 must not leak
    const auto hop_limit = static_cast<uint8_t>(rng());
    Bytes data(rng() % 64);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    Bytes packet(40 + data.size(), 0xcc);  // a reused buffer: every header byte must be written
    write_ipv6(packet.data(), src, dst, kExperimental, static_cast<uint16_t>(data.size()),
               hop_limit, flow_label);
    std::copy(data.begin(), data.end(), packet.begin() + 40);
    SCOPED_TRACE(i);

    const Tins::IPv6 theirs(packet.data(), static_cast<uint32_t>(packet.size()));
    EXPECT_EQ(int{theirs.version()}, 6);
    EXPECT_EQ(theirs.traffic_class(), 0);
    EXPECT_EQ(uint32_t{theirs.flow_label()}, flow_label & 0xfffff);
    EXPECT_EQ(theirs.payload_length(), data.size());
    EXPECT_EQ(theirs.next_header(), kExperimental);
    EXPECT_EQ(theirs.hop_limit(), hop_limit);
    EXPECT_EQ(Ours(theirs.src_addr()), src);
    EXPECT_EQ(Ours(theirs.dst_addr()), dst);
    const auto* raw = theirs.find_pdu<Tins::RawPDU>();
    if (data.empty()) {
      EXPECT_EQ(raw, nullptr);
    } else {
      ASSERT_NE(raw, nullptr);
      EXPECT_EQ(raw->payload(), data);
    }
    if (HasFailure()) return;
  }
}

TEST(Ipv6Libtins, AddressesAgreeWithLibtins) {
  std::mt19937 rng(4291);
  for (int i = 0; i < 3000; ++i) {
    Ipv6Address a;
    for (size_t g = 0; g < 8; ++g) {
      if (rng() & 1) continue;
      a.bytes[2 * g] = static_cast<uint8_t>(rng());
      a.bytes[2 * g + 1] = static_cast<uint8_t>(rng());
    }
    if (i % 100 == 0) {  // IPv4-mapped now and then
      std::fill_n(a.bytes.begin(), 10, 0);
      a.bytes[10] = a.bytes[11] = 0xff;
    }
    const Tins::IPv6Address theirs = Theirs(a);
    ASSERT_TRUE(std::equal(theirs.begin(), theirs.end(), a.bytes.begin())) << a.to_string();
    // glibc prints ::a.b.c.d for the deprecated IPv4-compatible addresses; RFC 5952 does not.
    const bool ipv4_compatible =
        std::all_of(a.bytes.begin(), a.bytes.begin() + 12, [](uint8_t b) { return b == 0; });
    if (!ipv4_compatible) {
      EXPECT_EQ(theirs.to_string(), a.to_string());
    }
    EXPECT_EQ(theirs.is_multicast(), a.is_multicast()) << a.to_string();
    EXPECT_EQ(theirs.is_loopback(), a.is_loopback()) << a.to_string();

    // Prefix membership against libtins' ranges: a bit flipped at or past the prefix leaves the
    // address inside, one before it takes it out.
    const auto prefix = static_cast<uint8_t>(rng() % 129);
    const Ipv6Subnet subnet{a, prefix};
    Ipv6Address other = a;
    const size_t bit = rng() % 128;
    other.bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    EXPECT_EQ(subnet.contains(other), bit >= prefix);
    EXPECT_EQ((theirs / prefix).contains(Theirs(other)), subnet.contains(other))
        << a.to_string() << "/" << int{prefix} << " " << other.to_string();
    EXPECT_TRUE(subnet.contains(a));
  }
  EXPECT_TRUE(Tins::IPv6Address("::1").is_loopback());
  EXPECT_TRUE(Ours(Tins::IPv6Address("::1")).is_loopback());
}

}  // namespace
}  // namespace tapstack::header
