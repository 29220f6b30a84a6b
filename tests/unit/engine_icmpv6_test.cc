// IPv6 input and ICMPv6 through the engine: echo replies under the token bucket ICMP shares
// (Linux's icmp_global_allow serves both families), the checks of Linux's ip6_rcv_core each
// with its drop reason, the extension header walk's rejections, and our Parameter Problems
// (RFC 4443 §3.4, RFC 8200 §4) with the cases §2.4 (e) keeps them from.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/engine_ipv6_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint8_t kUdp = 17;
constexpr uint8_t kNoNextHeader = 59;

class EngineIcmpv6 : public EngineIpv6Test {
 protected:
  EngineIcmpv6() {
    introduce(peer_);
    mark();
  }

  // An IPv6 packet from the peer with `next_header` and `payload` as they are (extension headers
  // included), hop limit 64, to `destination` at our MAC or its group's. Written by hand: the
  // drops under test are of packets no library would build.
  Bytes raw_packet(uint8_t next_header, const Bytes& payload,
                   const Tins::IPv6Address& destination = kOurGlobal,
                   std::optional<Tins::IPv6Address> source = {}) const {
    Tins::IPv6 ip(destination, source.value_or(peer_.ip));
    ip.hop_limit(64);
    Bytes frame = ipv6_frame(destination.is_multicast() ? multicast_mac(destination) : kOurMac,
                             peer_.mac, ip, Tins::RawPDU(payload));
    frame[14 + 4] = static_cast<uint8_t>(payload.size() >> 8);
    frame[14 + 5] = static_cast<uint8_t>(payload.size());
    frame[14 + 6] = next_header;
    return frame;
  }
  // What the engine answered to `packet`: one Parameter Problem, checked for code, pointer and
  // the packet it quotes.
  void expect_parameter_problem(const Bytes& packet, int code, uint32_t pointer) {
    SentIcmpv6 error = take_one_icmpv6();
    EXPECT_EQ(error.type, Tins::ICMPv6::PARAM_PROBLEM);
    EXPECT_EQ(error.code, code);
    EXPECT_EQ(error.rest_of_header, pointer);
    EXPECT_EQ(error.ip_destination, peer_.ip.to_string());
    EXPECT_EQ(error.hop_limit, 64);
    EXPECT_EQ(error.body, Bytes(packet.begin() + 14, packet.end()));
  }
  // An ICMPv6 error from the peer about `quoted` (an IPv6 packet we sent), written by the header
  // layer's writer (checked against libtins in icmpv6_test.cc): libtins has no setter for Packet
  // Too Big's MTU field.
  Bytes error_about(const Bytes& quoted, uint8_t type, uint8_t code, uint32_t mtu = 0) const {
    Bytes message(header::Icmpv6View::kHeaderSize + quoted.size());
    header::write_icmpv6(message.data(), *Ipv6Address::parse(peer_.ip.to_string()),
                         *Ipv6Address::parse(kOurGlobal.to_string()), type, code, mtu, quoted);
    return raw_packet(header::kProtocolIcmpv6, message);
  }
  // connect() to the peer (whose MAC we know) at port 80; returns the endpoint and the SYN frame.
  std::pair<EndpointId, Bytes> connect_raw() {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(engine().connect(*id, *Ipv6Address::parse(peer_.ip.to_string()), 80).is_ok());
    auto frames = take_frames();
    EXPECT_EQ(frames.size(), 1u);
    return {*id, frames.empty() ? Bytes(80) : frames.front()};
  }
  // Moves the clock by `d` in 10 ms steps, so that every timer fires at its own time.
  void advance_step_by_step(Duration d) {
    for (Time end = now() + d; now() < end;) advance_to(std::min(end, now() + milliseconds(10)));
  }
  static Bytes ipv4_echo_request(const Peer& peer) {
    Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
    return (Tins::EthernetII(kOurMac, peer.mac) / Tins::IP(kOurIp, peer.ip) / icmp).serialize();
  }
};

TEST_F(EngineIcmpv6, EchoRequestsToOurAddressesAreAnswered) {
  for (const auto& ours : {kOurGlobal, kOurLinkLocal}) {
    SCOPED_TRACE(ours.to_string());
    deliver(echo_request(peer_, ours, 7));
    SentIcmpv6 reply = take_one_icmpv6();
    EXPECT_EQ(reply.type, Tins::ICMPv6::ECHO_REPLY);
    EXPECT_EQ(reply.code, 0);
    EXPECT_EQ(reply.ip_source, ours.to_string());
    EXPECT_EQ(reply.ip_destination, peer_.ip.to_string());
    EXPECT_EQ(reply.eth_destination, peer_.mac.to_string());
    EXPECT_EQ(reply.hop_limit, 64);
    EXPECT_EQ(reply.rest_of_header, 0x12340007u);  // identifier and sequence
    EXPECT_EQ(reply.body, (Bytes{'p', 'i', 'n', 'g'}));
  }
  expect_counters({{"icmpv6_received", 2}, {"icmpv6_sent", 2}});
}

TEST_F(EngineIcmpv6, OneRateLimitServesBothFamilies) {
  EngineConfig config = ipv6_config();
  config.icmp_messages_per_second = 1;
  config.icmp_burst = 4;
  start(config);
  Peer peer4;
  attach(peer4);
  introduce(peer_);
  mark();
  for (uint16_t i = 0; i < 3; ++i) {
    deliver(ipv4_echo_request(peer4));
    deliver(echo_request(peer_, kOurGlobal, i));
  }
  EXPECT_EQ(take_frames().size(), 4u);
  expect_counters({{"icmp_received", 3},
                   {"icmp_sent", 2},
                   {"icmpv6_received", 3},
                   {"icmpv6_sent", 2},
                   {"drop.icmp_rate_limited", 2}});
  // A second later the bucket holds one more, for either family.
  advance_by(seconds(1));
  deliver(echo_request(peer_, kOurGlobal, 9));
  deliver(ipv4_echo_request(peer4));
  EXPECT_EQ(take_frames().size(), 1u);
}

TEST_F(EngineIcmpv6, MalformedHeadersAndMartianSourcesAreDropped) {
  Bytes bad_version = echo_request(peer_, kOurGlobal);
  bad_version[14] = 0x50;
  Bytes too_long = echo_request(peer_, kOurGlobal);
  too_long[14 + 5] += 1;  // payload length one past the frame
  Bytes bad_checksum = echo_request(peer_, kOurGlobal);
  bad_checksum.back() ^= 1;
  struct Case {
    std::string name;
    Bytes frame;
    DropReason reason;
  };
  std::vector<Case> cases = {
      {"version 5", bad_version, DropReason::bad_ipv6_header},
      {"payload past the frame", too_long, DropReason::bad_ipv6_header},
      {"multicast source", echo_request(peer_, kOurGlobal, 1, Tins::IPv6Address("ff02::5")),
       DropReason::ipv6_invalid_source},
      {"loopback source", echo_request(peer_, kOurGlobal, 1, Tins::IPv6Address("::1")),
       DropReason::ipv6_invalid_source},
      {"v4-mapped source",
       echo_request(peer_, kOurGlobal, 1, Tins::IPv6Address("::ffff:198.18.0.1")),
       DropReason::ipv6_invalid_source},
      {"our own source", echo_request(peer_, kOurGlobal, 1, kOurGlobal),
       DropReason::ipv6_invalid_source},
      {"unspecified source outside DAD",
       echo_request(peer_, kOurGlobal, 1, Tins::IPv6Address("::")),
       DropReason::ipv6_invalid_source},
      {"another host's address", echo_request(peer_, Tins::IPv6Address("2001:db8::3")),
       DropReason::ipv6_not_our_address},
      {"bad ICMPv6 checksum", bad_checksum, DropReason::bad_icmpv6},
      {"TCP to a group", raw_packet(6, Bytes(20), kAllNodes), DropReason::ipv6_multicast_tcp},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const uint64_t before = dropped(c.reason);
    deliver(c.frame);
    expect_nothing_sent();
    EXPECT_EQ(dropped(c.reason), before + 1);
  }
}

TEST_F(EngineIcmpv6, AnUnknownUpperLayerGetsParameterProblemCode1) {
  Bytes udp = raw_packet(kUdp, Bytes(8));
  deliver(udp);
  expect_parameter_problem(udp, 1, 6);  // the Next Header field
  expect_counters({{"icmpv6_sent", 1}, {"drop.ipv6_unsupported_protocol", 1}});
  // Not to a packet sent to a group (RFC 4443 §2.4 e.3).
  deliver(raw_packet(kUdp, Bytes(8), kAllNodes));
  expect_nothing_sent();
}

TEST_F(EngineIcmpv6, ExtensionHeaderRejectionsAreDroppedByReason) {
  // Destination Options, then Hop-by-Hop: not first (RFC 8200 §4.1), answered as an unknown
  // Next Header at the field that named it.
  Bytes hop_by_hop_late =
      raw_packet(60, {0, 0, 1, 4, 0, 0, 0, 0, kNoNextHeader, 0, 1, 4, 0, 0, 0, 0});
  deliver(hop_by_hop_late);
  expect_parameter_problem(hop_by_hop_late, 1, 40);
  // A Routing header with segments left (§4.4): code 0 at its Routing Type.
  Bytes routing = raw_packet(43, {kNoNextHeader, 0, 253, 1, 0, 0, 0, 0});
  deliver(routing);
  expect_parameter_problem(routing, 0, 42);
  // The rest are dropped quietly.
  deliver(raw_packet(44, {kNoNextHeader, 0, 0, 8, 0, 0, 0, 1}));  // a fragment at offset 1
  deliver(raw_packet(kNoNextHeader, {}));
  deliver(raw_packet(0, {kNoNextHeader, 4, 1, 4, 0, 0, 0, 0}));  // longer than the packet
  Bytes chain;
  for (int i = 0; i < 9; ++i) chain.insert(chain.end(), {60, 0, 1, 4, 0, 0, 0, 0});
  chain[8 * 8] = kNoNextHeader;
  deliver(raw_packet(60, chain));
  expect_nothing_sent();
  expect_counters({{"icmpv6_sent", 2},
                   {"drop.ipv6_hop_by_hop_not_first", 1},
                   {"drop.ipv6_routing_header", 1},
                   {"drop.ipv6_fragment", 1},
                   {"drop.ipv6_no_next_header", 1},
                   {"drop.ipv6_bad_extension", 1},
                   {"drop.ipv6_chain_too_long", 1}});
}

TEST_F(EngineIcmpv6, AnUnrecognizedOptionIsAnsweredAsItsTypeAsks) {
  // RFC 8200 §4.2: 01 discards quietly; 10 answers even to a group; 11 answers unless to one.
  auto with_option = [&](uint8_t type, const Tins::IPv6Address& destination) {
    return raw_packet(0, {kNoNextHeader, 0, type, 4, 0, 0, 0, 0}, destination);
  };
  deliver(with_option(0x41, kOurGlobal));
  deliver(with_option(0xc1, kAllNodes));
  expect_nothing_sent();
  Bytes answered_to_group = with_option(0x81, kAllNodes);
  deliver(answered_to_group);
  SentIcmpv6 error = take_one_icmpv6();
  EXPECT_EQ(error.type, Tins::ICMPv6::PARAM_PROBLEM);
  EXPECT_EQ(error.code, 2);
  EXPECT_EQ(error.rest_of_header, 42u);
  EXPECT_EQ(error.ip_source, kOurGlobal.to_string()) << "from ours, never from the group";
  Bytes answered = with_option(0xc1, kOurGlobal);
  deliver(answered);
  expect_parameter_problem(answered, 2, 42);
  expect_counters({{"icmpv6_sent", 2}, {"drop.ipv6_unrecognized_option", 4}});
}

TEST_F(EngineIcmpv6, ErrorsQuotingNoConnectionOfOursAreCounted) {
  Bytes quoted = raw_packet(6, {0x30, 0x39, 0, 80, 0, 0, 0, 1}, peer_.ip, kOurGlobal);
  deliver(error_about(Bytes(quoted.begin() + 14, quoted.end()), Tins::ICMPv6::DEST_UNREACHABLE, 4));
  expect_nothing_sent();
  expect_counters({{"icmpv6_received", 1}, {"drop.icmpv6_unmatched", 1}});
}

TEST_F(EngineIcmpv6, AnUnreachableQuotingOurSynEndsTheConnect) {
  auto [id, syn] = connect_raw();
  // Port unreachable: what Linux's tab_unreach calls ECONNREFUSED, a hard error.
  deliver(error_about(Bytes(syn.begin() + 14, syn.end()), Tins::ICMPv6::DEST_UNREACHABLE, 4));
  ASSERT_EQ(count_events(Event::Kind::kUnreachable, id), 1u);
  auto it = std::find_if(events_.begin(), events_.end(),
                         [](const Event& e) { return e.kind == Event::Kind::kUnreachable; });
  EXPECT_EQ(it->reason, "port unreachable (ICMPv6)");
  EXPECT_EQ(state_of(id), TcpState::kClosed);
  EXPECT_EQ(dropped(DropReason::icmpv6_unmatched), 0u);
}

TEST_F(EngineIcmpv6, PacketTooBigQuotingOurSegmentGoesToTcp) {
  auto [id, syn] = connect_raw();
  deliver(error_about(Bytes(syn.begin() + 14, syn.end()), Tins::ICMPv6::PACKET_TOOBIG, 0, 1280));
  EXPECT_EQ(dropped(DropReason::icmpv6_unmatched), 0u) << "TCP took it";
  EXPECT_EQ(state_of(id), TcpState::kSynSent) << "a smaller path MTU ends nothing";
}

TEST_F(EngineIcmpv6, ANextHopThatNeverAnswersEndsTheConnect) {
  const Tins::IPv6Address absent("2001:db8::77");
  auto id = engine().create_endpoint();
  ASSERT_TRUE(engine().connect(*id, *Ipv6Address::parse(absent.to_string()), 80).is_ok());
  advance_step_by_step(seconds(3));
  ASSERT_EQ(count_events(Event::Kind::kUnreachable, *id), 1u);
  auto it = std::find_if(events_.begin(), events_.end(),
                         [](const Event& e) { return e.kind == Event::Kind::kUnreachable; });
  EXPECT_EQ(it->reason, net::kNoNeighbourAdvertisement);
  EXPECT_EQ(stats().ndp_solicitations_sent.get(), 3u);
}

}  // namespace
}  // namespace tapstack::engine_test
