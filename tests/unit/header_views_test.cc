// Cross-checks the header views (stack/header) against libtins on the same bytes: frames libtins
// builds must read back field for field through the views, and frames the write_* helpers build
// must dissect in libtins to the same fields with valid checksums and options. libtins is the
// independent implementation here; the test never reuses stack code to compute an expectation.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/header/addresses.h"
#include "stack/header/arp.h"
#include "stack/header/checksum.h"
#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"
#include "stack/header/tcp.h"
#include "stack/header/tcp_options.h"
#include "tests/unit/libtins_addresses.h"
#include "tests/unit/reference_checksum.h"

namespace tapstack::header {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kEthIp = EthernetView::kSize + Ipv4View::kMinSize;  // TCP starts here.

using header_test::Ours;
using header_test::ReferenceSum;

// The TCP checksum over an explicitly built pseudo-header (RFC 9293 §3.1) followed by the segment.
uint16_t ReferenceTcpSum(std::span<const uint8_t> ip_packet) {
  const size_t ihl = size_t{ip_packet[0] & 0x0fu} * 4;
  const size_t total = size_t{ip_packet[2]} << 8 | ip_packet[3];
  const size_t tcp_length = total - ihl;
  Bytes buffer(ip_packet.begin() + 12, ip_packet.begin() + 20);  // source, destination
  buffer.push_back(0);
  buffer.push_back(6);
  buffer.push_back(static_cast<uint8_t>(tcp_length >> 8));
  buffer.push_back(static_cast<uint8_t>(tcp_length));
  buffer.insert(buffer.end(), ip_packet.begin() + ihl, ip_packet.begin() + total);
  return ReferenceSum(buffer);
}

// One TCP/IPv4/Ethernet frame's worth of fields, used to drive both libtins and the writers.
struct TcpFrameSpec {
  std::string dst_mac = "02:00:00:00:00:01";
  std::string src_mac = "02:00:00:00:00:02";
  std::string src_ip = "198.18.0.1";
  std::string dst_ip = "198.18.0.2";
  uint16_t source_port = 40000;
  uint16_t destination_port = 80;
  uint32_t seq = 0x01020304;
  uint32_t ack = 0xa0b0c0d0;
  uint8_t flags = tcp_flags::kSyn | tcp_flags::kAck;
  uint16_t window = 64240;
  uint8_t ttl = 64;
  uint16_t id = 0x1234;
  bool dont_fragment = true;
  TcpOptions options;
  Bytes payload;
};

Tins::EthernetII BuildWithLibtins(const TcpFrameSpec& s) {
  Tins::IP ip(s.dst_ip, s.src_ip);
  ip.ttl(s.ttl);
  ip.id(s.id);
  ip.flags(s.dont_fragment ? Tins::IP::DONT_FRAGMENT : Tins::IP::Flags{});
  Tins::TCP tcp(s.destination_port, s.source_port);
  tcp.seq(s.seq);
  tcp.ack_seq(s.ack);
  tcp.flags(s.flags);
  tcp.window(s.window);
  // Linux's SYN order; libtins pads the tail with NOPs.
  if (s.options.mss) tcp.mss(*s.options.mss);
  if (s.options.sack_permitted) tcp.sack_permitted();
  if (s.options.timestamp) tcp.timestamp(s.options.timestamp->value, s.options.timestamp->echo);
  if (s.options.window_scale) tcp.winscale(*s.options.window_scale);
  Tins::EthernetII eth(s.dst_mac, s.src_mac);
  eth /= ip;
  eth /= tcp;
  if (!s.payload.empty()) eth /= Tins::RawPDU(s.payload.data(), s.payload.size());
  return eth;
}

// Builds the same frame with write_ethernet / write_ipv4 / write_syn_options / write_tcp.
Bytes BuildWithWriters(const TcpFrameSpec& s, bool timestamp_only = false) {
  // Garbage first, as in a reused transmit buffer: every header byte must be written.
  Bytes frame(kEthIp + 20 + kMaxSynOptionsLength + s.payload.size(), 0xcc);
  uint8_t* tcp = frame.data() + kEthIp;
  size_t options_length = 0;
  if (timestamp_only) {
    options_length = write_timestamp_option(tcp + 20, *s.options.timestamp);
  } else {
    options_length = write_syn_options(tcp + 20, s.options);
  }
  if (!s.payload.empty()) {
    std::memcpy(tcp + 20 + options_length, s.payload.data(), s.payload.size());
  }
  const size_t segment_length = 20 + options_length + s.payload.size();
  const Ipv4Address src = *Ipv4Address::parse(s.src_ip);
  const Ipv4Address dst = *Ipv4Address::parse(s.dst_ip);
  const TcpHeaderFields fields{s.source_port, s.destination_port, s.seq, s.ack, s.flags, s.window};
  write_tcp(tcp, fields, options_length, segment_length, src, dst);
  write_ipv4(frame.data() + EthernetView::kSize, src, dst, kProtocolTcp,
             static_cast<uint16_t>(20 + segment_length), s.id, s.ttl);
  write_ethernet(frame.data(), *MacAddress::parse(s.dst_mac), *MacAddress::parse(s.src_mac),
                 kEtherTypeIpv4);
  frame.resize(kEthIp + segment_length);
  return frame;
}

// The views' reading of a frame, with every accessor checked against the spec it was built from.
void ExpectViewsMatch(const Bytes& frame, const TcpFrameSpec& s) {
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->destination(), *MacAddress::parse(s.dst_mac));
  EXPECT_EQ(eth->source(), *MacAddress::parse(s.src_mac));
  EXPECT_EQ(eth->ether_type(), kEtherTypeIpv4);
  EXPECT_EQ(eth->payload().size(), frame.size() - EthernetView::kSize);

  // libtins dissects the same bytes for the fields the spec does not fix (option layout,
  // checksums).
  Tins::EthernetII dissected(frame.data(), static_cast<uint32_t>(frame.size()));
  const auto& tins_ip = dissected.rfind_pdu<Tins::IP>();
  const auto& tins_tcp = dissected.rfind_pdu<Tins::TCP>();
  const size_t tcp_header_length = tins_tcp.data_offset() * size_t{4};

  auto ip = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_length(), 20u);
  EXPECT_EQ(ip->total_length(), 20 + tcp_header_length + s.payload.size());
  EXPECT_EQ(ip->id(), s.id);
  EXPECT_EQ(ip->dont_fragment(), s.dont_fragment);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl(), s.ttl);
  EXPECT_EQ(ip->protocol(), kProtocolTcp);
  EXPECT_EQ(ip->source(), *Ipv4Address::parse(s.src_ip));
  EXPECT_EQ(ip->destination(), *Ipv4Address::parse(s.dst_ip));
  EXPECT_EQ(ip->checksum(), tins_ip.checksum());
  EXPECT_TRUE(ip->checksum_ok());
  EXPECT_EQ(ip->payload().data(), frame.data() + kEthIp);

  auto tcp = TcpView::parse(ip->payload());
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->source_port(), s.source_port);
  EXPECT_EQ(tcp->destination_port(), s.destination_port);
  EXPECT_EQ(tcp->seq(), s.seq);
  EXPECT_EQ(tcp->ack(), s.ack);
  EXPECT_EQ(tcp->flags(), s.flags);
  for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
    EXPECT_EQ(tcp->has(bit), (s.flags & bit) != 0) << int{bit};
  }
  EXPECT_EQ(tcp->window(), s.window);
  EXPECT_EQ(tcp->header_length(), tcp_header_length);
  EXPECT_EQ(tcp->options().size(), tcp_header_length - 20);
  EXPECT_EQ(tcp->checksum(), tins_tcp.checksum());
  EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));
  EXPECT_EQ(Bytes(tcp->payload().begin(), tcp->payload().end()), s.payload);
  EXPECT_EQ(tcp->sequence_length(), s.payload.size() + ((s.flags & tcp_flags::kSyn) ? 1 : 0) +
                                        ((s.flags & tcp_flags::kFin) ? 1 : 0));

  TcpOptions expected = s.options;
  if (expected.window_scale) expected.window_scale = std::min(*expected.window_scale, uint8_t{14});
  if (expected.mss == 0) expected.mss.reset();  // Linux ignores an MSS of zero.
  EXPECT_EQ(parse_tcp_options(tcp->options()), expected);
}

// libtins' reading of a frame, checked against the spec it was built from.
void ExpectLibtinsMatches(const Bytes& frame, const TcpFrameSpec& s) {
  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  EXPECT_EQ(Ours(eth.dst_addr()), *MacAddress::parse(s.dst_mac));
  EXPECT_EQ(Ours(eth.src_addr()), *MacAddress::parse(s.src_mac));
  EXPECT_EQ(eth.payload_type(), kEtherTypeIpv4);

  const auto* ip = eth.find_pdu<Tins::IP>();
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(int{ip->version()}, 4);
  EXPECT_EQ(int{ip->head_len()}, 5);
  EXPECT_EQ(ip->tot_len(), frame.size() - EthernetView::kSize);
  EXPECT_EQ(ip->id(), s.id);
  EXPECT_EQ(ip->ttl(), s.ttl);
  EXPECT_EQ(ip->protocol(), 6);
  EXPECT_EQ(ip->flags(), s.dont_fragment ? Tins::IP::DONT_FRAGMENT : Tins::IP::Flags{});
  EXPECT_EQ(int{ip->fragment_offset()}, 0);
  EXPECT_EQ(Ours(ip->src_addr()), *Ipv4Address::parse(s.src_ip));
  EXPECT_EQ(Ours(ip->dst_addr()), *Ipv4Address::parse(s.dst_ip));

  const auto* tcp = eth.find_pdu<Tins::TCP>();
  ASSERT_NE(tcp, nullptr);
  EXPECT_EQ(tcp->sport(), s.source_port);
  EXPECT_EQ(tcp->dport(), s.destination_port);
  EXPECT_EQ(tcp->seq(), s.seq);
  EXPECT_EQ(tcp->ack_seq(), s.ack);
  EXPECT_EQ(int{tcp->flags()}, s.flags);
  EXPECT_EQ(tcp->window(), s.window);
  EXPECT_EQ(tcp->urg_ptr(), 0);
  EXPECT_EQ(tcp->data_offset() * size_t{4}, frame.size() - kEthIp - s.payload.size());

  if (s.options.mss) {
    EXPECT_EQ(tcp->mss(), *s.options.mss);
  } else {
    EXPECT_EQ(tcp->search_option(Tins::TCP::MSS), nullptr);
  }
  if (s.options.window_scale) {
    EXPECT_EQ(tcp->winscale(), *s.options.window_scale);
  } else {
    EXPECT_EQ(tcp->search_option(Tins::TCP::WSCALE), nullptr);
  }
  EXPECT_EQ(tcp->has_sack_permitted(), s.options.sack_permitted);
  if (s.options.timestamp) {
    EXPECT_EQ(tcp->timestamp(),
              std::make_pair(s.options.timestamp->value, s.options.timestamp->echo));
  } else {
    EXPECT_EQ(tcp->search_option(Tins::TCP::TSOPT), nullptr);
  }
  // Anything but NOP and the four negotiated options would mean the writer emitted garbage.
  for (const auto& option : tcp->options()) {
    EXPECT_TRUE(option.option() == Tins::TCP::NOP || option.option() == Tins::TCP::MSS ||
                option.option() == Tins::TCP::WSCALE || option.option() == Tins::TCP::SACK_OK ||
                option.option() == Tins::TCP::TSOPT)
        << int{option.option()};
  }

  const auto* raw = eth.find_pdu<Tins::RawPDU>();
  if (s.payload.empty()) {
    EXPECT_EQ(raw, nullptr);
  } else {
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(raw->payload(), s.payload);
  }
}

TcpFrameSpec RandomSpec(std::mt19937& rng) {
  auto u8 = [&] { return static_cast<uint8_t>(rng()); };
  auto u16 = [&] { return static_cast<uint16_t>(rng()); };
  auto ip_text = [&] {
    return std::to_string(u8()) + "." + std::to_string(u8()) + "." + std::to_string(u8()) + "." +
           std::to_string(u8());
  };
  auto mac_text = [&] {
    std::array<uint8_t, 6> m;
    for (auto& b : m) b = u8();
    return MacAddress{m}.to_string();
  };
  TcpFrameSpec s;
  s.dst_mac = mac_text();
  s.src_mac = mac_text();
  s.src_ip = ip_text();
  s.dst_ip = ip_text();
  s.source_port = u16();
  s.destination_port = u16();
  s.seq = static_cast<uint32_t>(rng());
  s.ack = static_cast<uint32_t>(rng());
  s.flags = u8();
  s.window = u16();
  s.ttl = u8();
  s.id = u16();
  s.dont_fragment = rng() & 1;
  if (rng() & 1) s.options.mss = u16();
  // Window scales past 14 are legal on the wire; the parser must clamp them.
  if (rng() & 1) s.options.window_scale = static_cast<uint8_t>(rng() % 4 == 0 ? u8() : u8() % 15);
  s.options.sack_permitted = rng() & 1;
  if (rng() & 1)
    s.options.timestamp = TcpTimestamp{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
  // Odd and even lengths both: the checksum's odd tail is a classic bug.
  s.payload.resize(rng() % 4 == 0 ? rng() % 1461 : rng() % 8);
  for (auto& b : s.payload) b = u8();
  return s;
}

TEST(HeaderViewsLibtins, ViewsReadLibtinsSynAck) {
  TcpFrameSpec s;
  s.options.mss = 1460;
  s.options.window_scale = 7;
  s.options.sack_permitted = true;
  s.options.timestamp = TcpTimestamp{0x11223344, 0x55667788};
  s.payload = {'h', 'e', 'l', 'l', 'o'};
  Bytes frame = BuildWithLibtins(s).serialize();
  // Hand-checked anchors, so that the test does not only compare libtins with itself.
  ASSERT_EQ(frame.size(), 14u + 20 + 40 + 5);
  EXPECT_EQ(frame[12], 0x08);
  EXPECT_EQ(frame[kEthIp + 12], 0xa0);  // data offset 10 words
  ExpectViewsMatch(frame, s);

  auto ip = Ipv4View::parse(EthernetView::parse(frame)->payload());
  auto tcp = TcpView::parse(ip->payload());
  EXPECT_EQ(tcp->source_port(), 40000);
  EXPECT_EQ(tcp->destination_port(), 80);
  EXPECT_EQ(tcp->seq(), 0x01020304u);
  EXPECT_EQ(tcp->ack(), 0xa0b0c0d0u);
  EXPECT_TRUE(tcp->has(tcp_flags::kSyn));
  EXPECT_TRUE(tcp->has(tcp_flags::kAck));
  EXPECT_FALSE(tcp->has(tcp_flags::kFin));
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->header_length(), 40u);
  EXPECT_EQ(tcp->sequence_length(), 6u);
  EXPECT_EQ(ip->source().to_string(), "198.18.0.1");
  EXPECT_EQ(ip->destination().to_string(), "198.18.0.2");
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_EQ(ip->id(), 0x1234);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_EQ(ReferenceSum({frame.data() + 14, 20}), 0xffff);
  EXPECT_EQ(ReferenceTcpSum({frame.data() + 14, frame.size() - 14}), 0xffff);
}

TEST(HeaderViewsLibtins, ViewsReadRandomLibtinsFrames) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 2000; ++i) {
    TcpFrameSpec s = RandomSpec(rng);
    Bytes frame = BuildWithLibtins(s).serialize();
    SCOPED_TRACE(i);
    ExpectViewsMatch(frame, s);
    if (HasFailure()) return;  // one broken frame is enough
  }
}

TEST(HeaderViewsLibtins, ChecksumFailsAfterAnyByteFlip) {
  TcpFrameSpec s;
  s.options.mss = 1460;
  s.options.timestamp = TcpTimestamp{1, 2};
  s.payload = {1, 2, 3, 4, 5, 6, 7};  // odd, so the padded tail word is covered too
  const Bytes frame = BuildWithLibtins(s).serialize();
  const Ipv4Address src = *Ipv4Address::parse(s.src_ip);
  const Ipv4Address dst = *Ipv4Address::parse(s.dst_ip);

  for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
    for (size_t at = EthernetView::kSize; at < frame.size(); ++at) {
      Bytes bad = frame;
      bad[at] ^= mask;
      auto ip = Ipv4View::parse(EthernetView::parse(bad)->payload());
      if (at < kEthIp) {
        // Flips of version, IHL or total length may make the header unparseable; either way a
        // corrupted header must never pass.
        if (ip) {
          EXPECT_FALSE(ip->checksum_ok()) << "byte " << at << " mask " << int{mask};
        }
        continue;
      }
      ASSERT_TRUE(ip);
      EXPECT_TRUE(ip->checksum_ok());  // the IP checksum covers only its header
      auto tcp = TcpView::parse(ip->payload());
      if (tcp) {
        EXPECT_FALSE(tcp->checksum_ok(src, dst)) << "byte " << at << " mask " << int{mask};
      }
    }
  }

  // The pseudo-header is covered: the right bytes under the wrong addresses do not pass.
  auto tcp = TcpView::parse(Ipv4View::parse(EthernetView::parse(frame)->payload())->payload());
  ASSERT_TRUE(tcp);
  EXPECT_TRUE(tcp->checksum_ok(src, dst));
  EXPECT_FALSE(tcp->checksum_ok(src, Ipv4Address{dst.value + 1}));
  EXPECT_FALSE(tcp->checksum_ok(Ipv4Address{src.value ^ 0x100}, dst));
}

TEST(HeaderViewsLibtins, FragmentFlags) {
  struct Case {
    Tins::IP::Flags flags;
    uint16_t offset;
    bool dont_fragment;
    bool is_fragment;
  };
  const Case cases[] = {
      {Tins::IP::Flags{}, 0, false, false},
      {Tins::IP::DONT_FRAGMENT, 0, true, false},
      {Tins::IP::MORE_FRAGMENTS, 0, false, true},  // first fragment
      {Tins::IP::Flags{}, 185, false, true},       // last fragment
      {Tins::IP::MORE_FRAGMENTS, 1, false, true},
      {Tins::IP::Flags{}, 0x1fff, false, true},
      // The reserved ("evil") bit is not a fragment marker.
      {Tins::IP::FLAG_RESERVED, 0, false, false},
      {static_cast<Tins::IP::Flags>(Tins::IP::FLAG_RESERVED | Tins::IP::DONT_FRAGMENT), 0, true,
       false},
  };
  for (const Case& c : cases) {
    Tins::IP ip("10.0.0.1", "10.0.0.2");
    ip.flags(c.flags);
    ip.fragment_offset(c.offset);
    Tins::EthernetII eth = Tins::EthernetII() / ip / Tins::RawPDU(Bytes(16, 0xab));
    Bytes frame = eth.serialize();
    auto view = Ipv4View::parse(EthernetView::parse(frame)->payload());
    ASSERT_TRUE(view);
    EXPECT_EQ(view->dont_fragment(), c.dont_fragment) << int{c.flags} << "/" << c.offset;
    EXPECT_EQ(view->is_fragment(), c.is_fragment) << int{c.flags} << "/" << c.offset;
    EXPECT_TRUE(view->checksum_ok());
    EXPECT_EQ(view->payload().size(), 16u);
  }
}

TEST(HeaderViewsLibtins, Ipv4HeaderWithOptions) {
  Tins::IP ip("10.1.2.3", "10.3.2.1");
  for (int i = 0; i < 8; ++i) ip.add_option(Tins::IP::option(Tins::IP::NOOP));
  Tins::TCP tcp(443, 5555);
  tcp.seq(7);
  Tins::EthernetII eth = Tins::EthernetII() / ip / tcp / Tins::RawPDU(Bytes(3, 0x5a));
  Bytes frame = eth.serialize();
  auto view = Ipv4View::parse(EthernetView::parse(frame)->payload());
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header_length(), 28u);
  EXPECT_EQ(view->total_length(), 28u + 20 + 3);
  EXPECT_TRUE(view->checksum_ok());
  EXPECT_EQ(view->source().to_string(), "10.3.2.1");
  auto seg = TcpView::parse(view->payload());
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->source_port(), 5555);
  EXPECT_EQ(seg->destination_port(), 443);
  EXPECT_EQ(seg->seq(), 7u);
  EXPECT_EQ(seg->payload().size(), 3u);
  EXPECT_TRUE(seg->checksum_ok(view->source(), view->destination()));
}

TEST(HeaderViewsLibtins, EthernetPaddingIsCutFromIpv4Payload) {
  // A bare ACK is 54 bytes; libtins pads it to Ethernet's 60-byte minimum as a NIC would.
  TcpFrameSpec s;
  s.flags = tcp_flags::kAck;
  Bytes frame = BuildWithLibtins(s).serialize();
  ASSERT_EQ(frame.size(), 60u);
  auto eth = EthernetView::parse(frame);
  EXPECT_EQ(eth->payload().size(), 46u);
  auto ip = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->total_length(), 40u);
  EXPECT_EQ(ip->payload().size(), 20u);
  auto tcp = TcpView::parse(ip->payload());
  ASSERT_TRUE(tcp);
  EXPECT_TRUE(tcp->payload().empty());
  EXPECT_EQ(tcp->sequence_length(), 0u);
  EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));

  // Non-zero padding after a short payload: it must not leak into the payload or the checksum.
  s.payload = {'x'};
  frame = BuildWithLibtins(s).serialize();
  ASSERT_EQ(frame.size(), 60u);
  for (size_t i = kEthIp + 21; i < frame.size(); ++i) frame[i] = 0xee;
  ip = Ipv4View::parse(EthernetView::parse(frame)->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->payload().size(), 21u);
  tcp = TcpView::parse(ip->payload());
  ASSERT_TRUE(tcp);
  EXPECT_EQ(Bytes(tcp->payload().begin(), tcp->payload().end()), Bytes{'x'});
  EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));
}

TEST(HeaderViewsLibtins, ArpRequestAndReply) {
  const Tins::HWAddress<6> ours("02:00:00:00:00:0a");
  const Tins::HWAddress<6> theirs("02:00:00:00:00:0b");
  Bytes request = Tins::ARP::make_arp_request("198.18.0.1", "198.18.0.2", ours).serialize();
  Bytes reply = Tins::ARP::make_arp_reply("198.18.0.2", "198.18.0.1", ours, theirs).serialize();

  auto eth = EthernetView::parse(request);
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->destination().is_broadcast());
  EXPECT_EQ(eth->source(), Ours(ours));
  EXPECT_EQ(eth->ether_type(), kEtherTypeArp);
  auto arp = ArpView::parse(eth->payload());  // padded to 46 bytes; ARP reads its 28
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), kArpRequest);
  EXPECT_EQ(arp->sender_mac(), Ours(ours));
  EXPECT_EQ(arp->sender_ip().to_string(), "198.18.0.2");
  EXPECT_EQ(arp->target_mac(), MacAddress{});
  EXPECT_EQ(arp->target_ip().to_string(), "198.18.0.1");

  eth = EthernetView::parse(reply);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->destination(), Ours(ours));
  EXPECT_EQ(eth->source(), Ours(theirs));
  arp = ArpView::parse(eth->payload());
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), kArpReply);
  EXPECT_EQ(arp->sender_mac(), Ours(theirs));
  EXPECT_EQ(arp->sender_ip().to_string(), "198.18.0.1");
  EXPECT_EQ(arp->target_mac(), Ours(ours));
  EXPECT_EQ(arp->target_ip().to_string(), "198.18.0.2");
}

TEST(HeaderViewsLibtins, ArpRejectsOtherHardwareAndProtocols) {
  Bytes frame = Tins::ARP::make_arp_request("1.2.3.4", "1.2.3.5", "02:00:00:00:00:01").serialize();
  const size_t arp = EthernetView::kSize;
  ASSERT_TRUE(ArpView::parse(std::span(frame).subspan(arp)));
  for (size_t field : {arp, arp + 1, arp + 2, arp + 3, arp + 4, arp + 5}) {
    Bytes bad = frame;
    bad[field] ^= 0x10;
    EXPECT_FALSE(ArpView::parse(std::span(bad).subspan(arp))) << field - arp;
  }
  // libtins' own ARP builder with a different hardware type.
  Tins::ARP other("1.2.3.4", "1.2.3.5");
  other.hw_addr_format(6);  // IEEE 802
  Bytes raw = other.serialize();
  EXPECT_FALSE(ArpView::parse(raw));
}

TEST(HeaderViewsWriters, SynOptionCombinationsDissectInLibtins) {
  std::mt19937 rng(7);
  for (int combo = 0; combo < 16; ++combo) {
    for (size_t payload_size : {0, 1, 2, 3, 100, 1460}) {
      TcpFrameSpec s;
      if (combo & 1) s.options.mss = 1460;
      if (combo & 2) s.options.window_scale = 14;
      s.options.sack_permitted = (combo & 4) != 0;
      if (combo & 8) s.options.timestamp = TcpTimestamp{0xdeadbeef, 0};
      s.payload.resize(payload_size);
      for (auto& b : s.payload) b = static_cast<uint8_t>(rng());
      const Bytes frame = BuildWithWriters(s);
      SCOPED_TRACE("combo " + std::to_string(combo) + " payload " + std::to_string(payload_size));

      ExpectLibtinsMatches(frame, s);
      ExpectViewsMatch(frame, s);

      // Checksums checked by a reference that shares no code with checksum.cc.
      const std::span<const uint8_t> packet(frame.data() + EthernetView::kSize,
                                            frame.size() - EthernetView::kSize);
      EXPECT_EQ(ReferenceSum(packet.first(20)), 0xffff);
      EXPECT_EQ(ReferenceTcpSum(packet), 0xffff);

      // libtins recomputes both checksums when it serializes; everything must come out the same
      // (after Ethernet padding, which libtins adds and the writers leave to the link).
      Tins::EthernetII reparsed(frame.data(), static_cast<uint32_t>(frame.size()));
      Bytes again = reparsed.serialize();
      ASSERT_GE(again.size(), frame.size());
      EXPECT_EQ(Bytes(again.begin(), again.begin() + static_cast<ptrdiff_t>(frame.size())), frame);
    }
  }
}

TEST(HeaderViewsWriters, RandomSegmentsMatchLibtins) {
  std::mt19937 rng(99);
  int same_layout = 0;
  for (int i = 0; i < 1000; ++i) {
    TcpFrameSpec s = RandomSpec(rng);
    s.dont_fragment = true;  // write_ipv4 always sets DF
    SCOPED_TRACE(i);
    const Bytes ours = BuildWithWriters(s);
    ExpectLibtinsMatches(ours, s);
    ExpectViewsMatch(ours, s);
    EXPECT_EQ(ReferenceSum({ours.data() + EthernetView::kSize, 20}), 0xffff);
    EXPECT_EQ(ReferenceTcpSum({ours.data() + EthernetView::kSize, ours.size() - 14}), 0xffff);

    // libtins' builder, given the same fields, must write the identical Ethernet and IP headers
    // (IP checksum included). Its TCP option order differs from Linux's (window scale before
    // its NOP), so the TCP checksums are compared when everything else in the segment agrees.
    const Bytes theirs = BuildWithLibtins(s).serialize();
    ASSERT_GE(theirs.size(), ours.size());
    EXPECT_TRUE(std::equal(ours.begin(), ours.begin() + kEthIp, theirs.begin()));
    const auto checksum_at = ours.begin() + kEthIp + 16;
    const auto theirs_checksum_at = theirs.begin() + kEthIp + 16;
    if (std::equal(ours.begin() + kEthIp, checksum_at, theirs.begin() + kEthIp) &&
        std::equal(checksum_at + 2, ours.end(), theirs_checksum_at + 2)) {
      ++same_layout;
      EXPECT_TRUE(std::equal(checksum_at, checksum_at + 2, theirs_checksum_at));
    }
    if (HasFailure()) return;
  }
  EXPECT_GT(same_layout, 100);  // the checksum comparison above did run
}

TEST(HeaderViewsWriters, TimestampOptionOnDataSegment) {
  TcpFrameSpec s;
  s.flags = tcp_flags::kAck | tcp_flags::kPsh;
  s.options.timestamp = TcpTimestamp{123456789, 987654321};
  s.payload.assign(33, 0x42);
  const Bytes frame = BuildWithWriters(s, /*timestamp_only=*/true);
  ASSERT_EQ(frame.size(), kEthIp + 20 + 12 + 33);

  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  const auto& tcp = eth.rfind_pdu<Tins::TCP>();
  EXPECT_EQ(int{tcp.data_offset()}, 8);
  EXPECT_EQ(tcp.timestamp(), std::make_pair(123456789u, 987654321u));
  EXPECT_EQ(tcp.search_option(Tins::TCP::MSS), nullptr);
  EXPECT_FALSE(tcp.has_sack_permitted());
  EXPECT_EQ(int{tcp.flags()}, Tins::TCP::ACK | Tins::TCP::PSH);
  EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), s.payload);
  EXPECT_EQ(ReferenceTcpSum({frame.data() + 14, frame.size() - 14}), 0xffff);

  auto view = TcpView::parse(Ipv4View::parse(EthernetView::parse(frame)->payload())->payload());
  ASSERT_TRUE(view);
  EXPECT_EQ(view->header_length(), 32u);
  EXPECT_EQ(parse_tcp_options(view->options()).timestamp, s.options.timestamp);
}

TEST(HeaderViewsWriters, ArpDissectsInLibtins) {
  const MacAddress sender = *MacAddress::parse("02:00:00:00:00:0a");
  const MacAddress target = *MacAddress::parse("52:54:00:12:34:56");
  Bytes frame(EthernetView::kSize + ArpView::kSize);
  write_ethernet(frame.data(), target, sender, kEtherTypeArp);
  write_arp(frame.data() + EthernetView::kSize, kArpReply, sender,
            *Ipv4Address::parse("198.18.0.2"), target, *Ipv4Address::parse("198.18.0.1"));

  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  EXPECT_EQ(eth.payload_type(), kEtherTypeArp);
  const auto& arp = eth.rfind_pdu<Tins::ARP>();
  EXPECT_EQ(arp.hw_addr_format(), 1);
  EXPECT_EQ(arp.prot_addr_format(), 0x0800);
  EXPECT_EQ(arp.hw_addr_length(), 6);
  EXPECT_EQ(arp.prot_addr_length(), 4);
  EXPECT_EQ(arp.opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(Ours(arp.sender_hw_addr()), sender);
  EXPECT_EQ(arp.sender_ip_addr().to_string(), "198.18.0.2");
  EXPECT_EQ(Ours(arp.target_hw_addr()), target);
  EXPECT_EQ(arp.target_ip_addr().to_string(), "198.18.0.1");

  // libtins builds the identical reply from the same fields.
  Bytes theirs =
      Tins::ARP::make_arp_reply("198.18.0.1", "198.18.0.2", target.to_string(), sender.to_string())
          .serialize();
  ASSERT_GE(theirs.size(), frame.size());
  EXPECT_EQ(Bytes(theirs.begin(), theirs.begin() + static_cast<ptrdiff_t>(frame.size())), frame);

  auto view = ArpView::parse(EthernetView::parse(frame)->payload());
  ASSERT_TRUE(view);
  EXPECT_EQ(view->operation(), kArpReply);
  EXPECT_EQ(view->sender_mac(), sender);
  EXPECT_EQ(view->target_ip().to_string(), "198.18.0.1");
}

// Parses every view the frame supports and touches every accessor; under ASan an out-of-bounds
// read anywhere in the chain fails the test.
struct ChainResult {
  bool ethernet = false, ipv4 = false, tcp = false, arp = false;
};
ChainResult ParseChain(std::span<const uint8_t> frame) {
  ChainResult r;
  volatile uint64_t sink = 0;  // keeps the reads from being optimised away
  auto eth = EthernetView::parse(frame);
  if (!eth) return r;
  r.ethernet = true;
  sink = sink + eth->destination().bytes[5] + eth->source().bytes[5] + eth->ether_type();
  if (auto arp = ArpView::parse(eth->payload())) {
    r.arp = true;
    sink = sink + arp->operation() + arp->sender_mac().bytes[0] + arp->sender_ip().value +
           arp->target_mac().bytes[5] + arp->target_ip().value;
  }
  auto ip = Ipv4View::parse(eth->payload());
  if (!ip) return r;
  r.ipv4 = true;
  sink = sink + ip->id() + ip->ttl() + ip->protocol() + ip->checksum() + ip->source().value +
         ip->destination().value + ip->dont_fragment() + ip->is_fragment() + ip->checksum_ok();
  for (uint8_t b : ip->payload()) sink = sink + b;
  auto tcp = TcpView::parse(ip->payload());
  if (!tcp) return r;
  r.tcp = true;
  sink = sink + tcp->source_port() + tcp->destination_port() + tcp->seq() + tcp->ack() +
         tcp->flags() + tcp->window() + tcp->checksum() + tcp->sequence_length() +
         tcp->checksum_ok(ip->source(), ip->destination());
  for (uint8_t b : tcp->payload()) sink = sink + b;
  auto options = parse_tcp_options(tcp->options());
  sink = sink + options.mss.value_or(0);
  return r;
}

TEST(HeaderViewsTruncation, EveryPrefixOfATcpFrame) {
  TcpFrameSpec s;
  s.options.mss = 1460;
  s.options.window_scale = 7;
  s.options.sack_permitted = true;
  s.options.timestamp = TcpTimestamp{1, 2};
  s.payload.assign(25, 0x77);
  const Bytes frame = BuildWithLibtins(s).serialize();
  for (size_t n = 0; n <= frame.size(); ++n) {
    // An exactly sized heap copy, so ASan sees a read one past the prefix.
    const Bytes prefix(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(n));
    ChainResult r = ParseChain(prefix);
    EXPECT_EQ(r.ethernet, n >= EthernetView::kSize) << n;
    EXPECT_EQ(r.ipv4, n == frame.size()) << n;  // total_length covers the whole packet
    EXPECT_EQ(r.tcp, n == frame.size()) << n;
  }
}

TEST(HeaderViewsTruncation, EveryPrefixOfAnIpPacketAndSegment) {
  TcpFrameSpec s;
  s.options.timestamp = TcpTimestamp{5, 6};
  s.payload.assign(9, 0x10);
  const Bytes frame = BuildWithLibtins(s).serialize();
  const Bytes packet(frame.begin() + EthernetView::kSize, frame.end());
  const Bytes segment(frame.begin() + kEthIp, frame.end());
  const size_t tcp_header = 20 + 12;

  for (size_t n = 0; n <= packet.size(); ++n) {
    const Bytes prefix(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(n));
    auto ip = Ipv4View::parse(prefix);
    EXPECT_EQ(ip.has_value(), n == packet.size()) << n;
  }
  // A TCP segment on its own is valid as soon as its declared header is present; the rest is
  // payload.
  for (size_t n = 0; n <= segment.size(); ++n) {
    const Bytes prefix(segment.begin(), segment.begin() + static_cast<ptrdiff_t>(n));
    auto tcp = TcpView::parse(prefix);
    ASSERT_EQ(tcp.has_value(), n >= tcp_header) << n;
    if (!tcp) continue;
    EXPECT_EQ(tcp->header_length(), tcp_header);
    EXPECT_EQ(tcp->payload().size(), n - tcp_header);
    EXPECT_EQ(parse_tcp_options(tcp->options()).timestamp, s.options.timestamp);
  }
}

TEST(HeaderViewsTruncation, EveryPrefixOfAnArpFrame) {
  Bytes frame = Tins::ARP::make_arp_request("1.2.3.4", "1.2.3.5", "02:00:00:00:00:01").serialize();
  frame.resize(EthernetView::kSize + ArpView::kSize);  // drop the padding to test the edge
  for (size_t n = 0; n <= frame.size(); ++n) {
    const Bytes prefix(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(n));
    ChainResult r = ParseChain(prefix);
    EXPECT_EQ(r.ethernet, n >= EthernetView::kSize) << n;
    EXPECT_EQ(r.arp, n == frame.size()) << n;
    EXPECT_FALSE(r.ipv4) << n;
  }
}

TEST(HeaderViewsTruncation, DeclaredLengthsBeyondTheBytes) {
  TcpFrameSpec s;
  s.flags = tcp_flags::kAck;
  Bytes frame = BuildWithLibtins(s).serialize();
  frame.resize(kEthIp + 20);  // drop Ethernet padding: exactly 40 bytes of IP
  const Bytes packet(frame.begin() + EthernetView::kSize, frame.end());
  ASSERT_TRUE(Ipv4View::parse(packet));

  auto with = [&](size_t at, uint8_t value) {
    Bytes b = packet;
    b[at] = value;
    return b;
  };
  EXPECT_FALSE(Ipv4View::parse(with(0, 0x65))) << "version 6";
  EXPECT_FALSE(Ipv4View::parse(with(0, 0x44))) << "IHL below 5";
  EXPECT_FALSE(Ipv4View::parse(with(0, 0x40))) << "IHL 0";
  EXPECT_FALSE(Ipv4View::parse(with(0, 0x4f))) << "IHL 60 > 40 bytes";
  EXPECT_TRUE(Ipv4View::parse(with(0, 0x4a))) << "IHL 40 == total length";
  EXPECT_FALSE(Ipv4View::parse(with(3, 41))) << "total length 41 > 40 bytes";
  EXPECT_FALSE(Ipv4View::parse(with(3, 19))) << "total length below the minimum header";
  EXPECT_FALSE(Ipv4View::parse(with(2, 0xff))) << "total length 65320";
  {
    Bytes b = with(0, 0x46);  // IHL 24 > total length 20
    b[3] = 20;
    EXPECT_FALSE(Ipv4View::parse(b));
  }
  {
    auto ip = Ipv4View::parse(with(3, 20));  // header only; the rest is padding
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->payload().empty());
    EXPECT_FALSE(TcpView::parse(ip->payload()));
  }

  const Bytes segment(packet.begin() + 20, packet.end());
  auto offset = [&](uint8_t words, size_t size) {
    Bytes b = segment;
    b.resize(size);
    b[12] = static_cast<uint8_t>(words << 4);
    return b;
  };
  EXPECT_TRUE(TcpView::parse(offset(5, 20)));
  EXPECT_FALSE(TcpView::parse(offset(4, 20))) << "data offset below 5";
  EXPECT_FALSE(TcpView::parse(offset(0, 20))) << "data offset 0";
  EXPECT_FALSE(TcpView::parse(offset(6, 20))) << "data offset 24 > 20 bytes";
  EXPECT_FALSE(TcpView::parse(offset(15, 59))) << "data offset 60 > 59 bytes";
  auto full = TcpView::parse(offset(15, 60));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->options().size(), 40u);
  EXPECT_TRUE(full->payload().empty());
  EXPECT_FALSE(TcpView::parse(Bytes(19)));
  EXPECT_FALSE(EthernetView::parse(Bytes(13)));
  EXPECT_FALSE(ArpView::parse(Bytes(27)));
}

TEST(HeaderViewsChecksum, MatchesReferenceInAnyEvenSplit) {
  // RFC 1071 §3's worked example.
  const Bytes example = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_finish(checksum_add(0, example)), static_cast<uint16_t>(~0xddf2));

  std::mt19937 rng(5);
  for (int i = 0; i < 3000; ++i) {
    Bytes data(rng() % 1600);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint16_t expected = static_cast<uint16_t>(~ReferenceSum(data));
    ASSERT_EQ(checksum_finish(checksum_add(0, data)), expected) << data.size();
    // Summed in pieces: every piece but the last has even length.
    size_t cut = data.empty() ? 0 : (rng() % (data.size() + 1)) & ~size_t{1};
    std::span<const uint8_t> all(data);
    ASSERT_EQ(checksum_finish(checksum_add(checksum_add(0, all.first(cut)), all.subspan(cut))),
              expected)
        << data.size() << "/" << cut;
  }
  // The largest IP packet of all-ones words: the accumulator must not overflow.
  Bytes big(65535, 0xff);
  EXPECT_EQ(checksum_finish(checksum_add(0, big)), static_cast<uint16_t>(~ReferenceSum(big)));
}

TEST(HeaderViewsChecksum, PseudoHeaderMatchesExplicitBytes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 1000; ++i) {
    const Ipv4Address src{static_cast<uint32_t>(rng())};
    const Ipv4Address dst{static_cast<uint32_t>(rng())};
    const uint16_t length = static_cast<uint16_t>(rng());
    uint8_t pseudo[12] = {};
    src.write(pseudo);
    dst.write(pseudo + 4);
    pseudo[9] = kProtocolTcp;
    pseudo[10] = static_cast<uint8_t>(length >> 8);
    pseudo[11] = static_cast<uint8_t>(length);
    EXPECT_EQ(checksum_finish(pseudo_header_sum(src, dst, kProtocolTcp, length)),
              static_cast<uint16_t>(~ReferenceSum(pseudo)));
  }
}

TEST(HeaderViewsAddresses, AgreeWithLibtins) {
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const Ipv4Address a{static_cast<uint32_t>(rng())};
    const Tins::IPv4Address theirs(a.to_string());
    EXPECT_EQ(theirs.to_string(), a.to_string());
    // Same bytes on the wire as libtins writes into an IP header's source field.
    Bytes packet = Tins::IP("0.0.0.0", theirs).serialize();
    uint8_t mine[4];
    a.write(mine);
    EXPECT_EQ(std::memcmp(mine, packet.data() + 12, 4), 0) << a.to_string();
    EXPECT_EQ(Ipv4Address::from(packet.data() + 12), a);
  }
  const Tins::HWAddress<6> mac("00:1b:21:ab:cd:ef");
  EXPECT_EQ(Ours(mac).to_string(), mac.to_string());
  EXPECT_EQ(Ours(mac).bytes, (std::array<uint8_t, 6>{0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef}));
  EXPECT_TRUE(Ours(Tins::HWAddress<6>::broadcast).is_broadcast());
  EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
  EXPECT_FALSE(Ours(mac).is_multicast());
}

}  // namespace
}  // namespace tapstack::header
