// Rule 1: the link and network layers. ARP answers and resolution (retries, queue, expiry),
// IPv4 input checks with their drop reasons, and the route: on-link, via gateway, or none.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineLink : public EngineTest {
 protected:
  // A SYN to a port nobody listens on: the engine answers with one RST and never retransmits,
  // so it is the simplest frame to watch waiting for ARP.
  void provoke_reset(const Peer& peer, uint32_t seq = 100) {
    send(peer, 81, {.flags = kSyn, .seq = seq});
  }
  // Expects one ARP who-has for `target` from us, broadcast.
  void expect_arp_request(const SentArp& arp, const Tins::IPv4Address& target) {
    EXPECT_EQ(arp.eth_destination, "ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(arp.eth_source, kOurMac.to_string());
    EXPECT_EQ(arp.opcode, Tins::ARP::REQUEST);
    EXPECT_EQ(arp.sender_mac, kOurMac.to_string());
    EXPECT_EQ(arp.sender_ip, kOurIp.to_string());
    EXPECT_EQ(arp.target_mac, "00:00:00:00:00:00");
    EXPECT_EQ(arp.target_ip, target.to_string());
  }
  // A TCP SYN frame to port 80 with every address given, for the input checks.
  static Tins::EthernetII ip_frame(const Tins::HWAddress<6>& eth_destination,
                                   const Tins::IPv4Address& ip_destination) {
    Peer peer;
    return Tins::EthernetII(eth_destination, peer.mac) / Tins::IP(ip_destination, peer.ip) /
           Tins::TCP(80, peer.port);
  }
  // Delivers `frame` and expects it dropped for `reason` only, nothing sent, nothing to TCP.
  void expect_dropped(const Bytes& frame, const std::string& reason) {
    mark();
    deliver(frame);
    expect_nothing_sent();
    expect_counters({{"drop." + reason, 1},
                     {"frames_received", 1},
                     {"packets_received", 0},
                     {"segments_received", 0}});
  }

  Peer peer_;
};

TEST_F(EngineLink, ArpWhoHasForOurAddressIsAnswered) {
  deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, peer_.ip, Tins::HWAddress<6>(),
                    kOurIp));
  SentArp reply = take_arp();
  EXPECT_EQ(reply.eth_destination, peer_.mac.to_string());
  EXPECT_EQ(reply.eth_source, kOurMac.to_string());
  EXPECT_EQ(reply.opcode, Tins::ARP::REPLY);
  EXPECT_EQ(reply.sender_mac, kOurMac.to_string());
  EXPECT_EQ(reply.sender_ip, kOurIp.to_string());
  EXPECT_EQ(reply.target_mac, peer_.mac.to_string());
  EXPECT_EQ(reply.target_ip, peer_.ip.to_string());
  expect_counters({{"arp_requests_received", 1},
                   {"arp_replies_sent", 1},
                   {"arp_entries_created", 1},
                   {"frames_received", 1},
                   {"frames_sent", 1}});
  // The request taught us the peer: a reply to it goes out without resolving.
  provoke_reset(peer_);
  EXPECT_EQ(take_segment().eth_destination, peer_.mac.to_string());
}

TEST_F(EngineLink, ArpWhoHasForAnotherAddressIsNotAnswered) {
  deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, peer_.ip, Tins::HWAddress<6>(),
                    Tins::IPv4Address("198.18.0.3")));
  expect_nothing_sent();
  expect_counters({{"drop.arp_not_for_us", 1}});
}

TEST_F(EngineLink, ArpResolutionRetriesEverySecondThreeTimesThenDropsQueuedFrames) {
  provoke_reset(peer_);
  expect_arp_request(take_arp(), peer_.ip);
  for (int retry = 1; retry < 3; ++retry) {
    advance_silently_to_just_before(kStart + seconds(retry));
    advance_to(kStart + seconds(retry));
    expect_arp_request(take_arp(), peer_.ip);
  }
  EXPECT_EQ(dropped(DropReason::arp_failed), 0u);
  advance_silently_to_just_before(kStart + seconds(3));
  advance_to(kStart + seconds(3));
  expect_nothing_sent();
  expect_counters({{"arp_requests_sent", 3},
                   {"arp_entries_created", 1},
                   {"arp_entries_removed", 1},
                   {"drop.arp_failed", 1},
                   {"resets_sent", 1},
                   {"segments_received", 1},
                   {"segments_sent", 1},
                   {"frames_received", 1},
                   {"packets_received", 1},
                   {"frames_sent", 3},
                   {"packets_sent", 0}});
  EXPECT_EQ(engine().next_deadline(), std::nullopt);

  // The failure is forgotten: the next frame starts a new resolution.
  advance_by(seconds(10));
  provoke_reset(peer_);
  expect_arp_request(take_arp(), peer_.ip);
}

TEST_F(EngineLink, ArpQueueIsBoundedAndFlushedInOrderOnReply) {
  EngineConfig config;
  config.arp_queue_limit = 2;
  restart(config);
  for (uint16_t port = 1; port <= 3; ++port) {
    Peer from = peer_;
    from.port = port;
    provoke_reset(from, 1000u * port);
  }
  expect_arp_request(take_arp(), peer_.ip);
  expect_counters({{"drop.arp_queue_full", 1},
                   {"arp_requests_sent", 1},
                   {"arp_entries_created", 1},
                   {"resets_sent", 3},
                   {"frames_sent", 1},
                   {"packets_sent", 0}});

  learn(peer_);
  auto resets = take_segments();
  ASSERT_EQ(resets.size(), 2u);
  for (size_t i = 0; i < resets.size(); ++i) {
    EXPECT_EQ(resets[i].eth_destination, peer_.mac.to_string());
    EXPECT_EQ(resets[i].eth_source, kOurMac.to_string());
    EXPECT_EQ(resets[i].destination_port, i + 1);
    EXPECT_EQ(resets[i].ack, 1000u * (i + 1) + 1);
  }
  // Resolved: no retry follows.
  advance_by(seconds(5));
  expect_nothing_sent();
  EXPECT_EQ(stats().arp_requests_sent.get(), 1u);
  EXPECT_EQ(stats().arp_replies_received.get(), 1u);
  EXPECT_EQ(dropped(DropReason::arp_failed), 0u);
}

TEST_F(EngineLink, ArpEntryExpiresAfterItsLifetimeAndIsResolvedAgain) {
  introduce(peer_);
  advance_to(kStart + seconds(30));  // half its life: used straight from the cache
  provoke_reset(peer_);
  EXPECT_EQ(take_segment().eth_destination, peer_.mac.to_string());

  advance_to(kStart + seconds(60));  // arp_entry_lifetime: expired
  mark();
  provoke_reset(peer_);
  expect_arp_request(take_arp(), peer_.ip);
  expect_counters({{"arp_requests_sent", 1}, {"resets_sent", 1}, {"packets_sent", 0}});

  Peer moved = peer_;
  moved.mac = Tins::HWAddress<6>("02:00:00:00:00:11");  // the address moved to another host
  learn(moved);
  EXPECT_EQ(take_segment().eth_destination, moved.mac.to_string());
}

TEST_F(EngineLink, ArpEntryInUseIsRefreshedDuringTheLastQuarterOfItsLife) {
  introduce(peer_);
  advance_to(kStart + seconds(46));  // 14 s left of 60: under a quarter
  provoke_reset(peer_);
  auto frames = take_frames();
  ASSERT_EQ(frames.size(), 2u);
  ASSERT_TRUE(dissect_tcp(frames[0]));
  EXPECT_EQ(dissect_tcp(frames[0])->eth_destination, peer_.mac.to_string());
  ASSERT_TRUE(dissect_arp(frames[1]));
  expect_arp_request(*dissect_arp(frames[1]), peer_.ip);

  learn(peer_);                      // the answer renews the entry for another lifetime
  advance_to(kStart + seconds(70));  // the first lifetime is over; the second is young
  provoke_reset(peer_);
  EXPECT_EQ(take_segment().eth_destination, peer_.mac.to_string());
}

TEST_F(EngineLink, Ipv4BadHeaderChecksumIsDroppedAndCounted) {
  introduce(peer_);
  Bytes frame = tcp_frame(peer_, 81, {.flags = kSyn, .seq = 1});
  frame[14 + 10] ^= 0x01;  // the IPv4 header checksum
  expect_dropped(frame, "bad_ipv4_checksum");
}

TEST_F(EngineLink, Ipv4NotOurAddressIsDroppedAndCounted) {
  introduce(peer_);
  auto frame = ip_frame(kOurMac, Tins::IPv4Address("198.18.0.3"));
  expect_dropped(frame.serialize(), "not_our_address");
}

TEST_F(EngineLink, FrameNotForOurMacIsDroppedAndCounted) {
  introduce(peer_);
  auto frame = ip_frame(Tins::HWAddress<6>("02:00:00:00:00:99"), kOurIp);
  expect_dropped(frame.serialize(), "not_our_mac");
}

TEST_F(EngineLink, Ipv4FragmentsAreDroppedAndCounted) {
  introduce(peer_);
  auto first = ip_frame(kOurMac, kOurIp);
  first.rfind_pdu<Tins::IP>().flags(Tins::IP::MORE_FRAGMENTS);
  expect_dropped(first.serialize(), "ipv4_fragment");
  auto later = ip_frame(kOurMac, kOurIp);
  later.rfind_pdu<Tins::IP>().fragment_offset(185);
  expect_dropped(later.serialize(), "ipv4_fragment");
}

TEST_F(EngineLink, NonTcpProtocolIsDroppedAndCounted) {
  introduce(peer_);
  auto frame =
      Tins::EthernetII(kOurMac, peer_.mac) / Tins::IP(kOurIp, peer_.ip) / Tins::UDP(53, 5353);
  expect_dropped(frame.serialize(), "unsupported_protocol");
}

// IPv6 is taken (engine_ndp_test.cc, engine_icmpv6_test.cc): a packet to an address that is not
// ours is dropped by the IPv6 layer; other EtherTypes (here LLDP) still by the link.
TEST_F(EngineLink, Ipv6ToAnotherAddressAndUnknownEthertypesAreDroppedAndCounted) {
  introduce(peer_);
  auto frame = Tins::EthernetII(kOurMac, peer_.mac) /
               Tins::IPv6(Tins::IPv6Address("fd00::2"), Tins::IPv6Address("fd00::1")) /
               Tins::TCP(80, peer_.port);
  expect_dropped(frame.serialize(), "ipv6_not_our_address");
  Tins::EthernetII lldp(kOurMac, peer_.mac);
  lldp.payload_type(0x88cc);
  lldp /= Tins::RawPDU(Bytes(46));
  expect_dropped(lldp.serialize(), "unsupported_ethertype");
}

TEST_F(EngineLink, RuntFrameIsDroppedAndCounted) {
  expect_dropped(Bytes(10, 0xff), "frame_too_short");
}

TEST_F(EngineLink, Ipv4MartianSourcesAreDroppedAndCounted) {
  introduce(peer_);
  for (const char* source :
       {"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.0.9", "224.0.0.1", "239.1.2.3", "240.0.0.1",
        "255.255.255.255", "198.18.0.255", "198.18.0.2"}) {
    SCOPED_TRACE(source);
    auto frame = Tins::EthernetII(kOurMac, peer_.mac) /
                 Tins::IP(kOurIp, Tins::IPv4Address(source)) / Tins::TCP(81, peer_.port);
    expect_dropped(frame.serialize(), "invalid_source");
  }
}

TEST_F(EngineLink, MalformedHeadersAreDroppedAndCounted) {
  introduce(peer_);
  Bytes good = tcp_frame(peer_, 81, {.flags = kSyn, .seq = 1});
  // Shorter than the IPv4 total length (libtins pads frames to 60 bytes: cut from the header).
  Bytes truncated(good.begin(), good.begin() + 14 + 40 - 4);
  expect_dropped(truncated, "bad_ipv4_header");
  Bytes version = good;
  version[14] = 0x65;  // version 6 behind the IPv4 ethertype
  expect_dropped(version, "bad_ipv4_header");
  Bytes offset = good;
  offset[14 + 20 + 12] = 0x40;  // TCP data offset 4: a header shorter than 20 bytes
  mark();
  deliver(offset);
  expect_nothing_sent();
  expect_counters({{"drop.bad_tcp_header", 1}, {"packets_received", 1}});
  Bytes arp = arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, peer_.ip,
                        Tins::HWAddress<6>(), kOurIp);
  arp[14 + 4] = 8;  // hardware address length 8: not Ethernet
  expect_dropped(arp, "bad_arp");
}

TEST_F(EngineLink, EthernetPaddingIsIgnored) {
  introduce(peer_);
  Bytes frame = tcp_frame(peer_, 81, {.flags = kSyn, .seq = 100});
  frame.resize(frame.size() + 6, 0);  // padded to the 60-byte minimum as a NIC would
  deliver(frame);
  expect_segment(take_segment(), kRst | kAck, 0, 101);
}

TEST_F(EngineLink, OffLinkPeerIsReachedThroughTheGatewaysMac) {
  EngineConfig config;
  config.gateway = to_engine(Tins::IPv4Address("198.18.0.254"));
  restart(config);
  Peer gateway{.ip = Tins::IPv4Address("198.18.0.254"),
               .mac = Tins::HWAddress<6>("02:00:00:00:00:fe")};
  Peer remote{.ip = Tins::IPv4Address("203.0.113.7"), .mac = gateway.mac, .port = 443};

  auto id = engine().create_endpoint();
  ASSERT_TRUE(engine().connect(*id, remote.address(), remote.port).is_ok());
  expect_arp_request(take_arp(), gateway.ip);  // the next hop is resolved, not the peer
  learn(gateway);
  SentSegment syn = take_segment();
  EXPECT_EQ(syn.eth_destination, gateway.mac.to_string());
  EXPECT_EQ(syn.ip_destination, remote.ip.to_string());
  EXPECT_EQ(syn.ip_source, kOurIp.to_string());
  EXPECT_EQ(syn.destination_port, 443);
  EXPECT_EQ(flags_string(syn.flags), flags_string(kSyn));
}

TEST_F(EngineLink, OffLinkPeerWithoutGatewayHasNoRoute) {
  Peer remote{.ip = Tins::IPv4Address("203.0.113.7"), .mac = peer_.mac, .port = 443};
  auto id = engine().create_endpoint();
  Status s = engine().connect(*id, remote.address(), remote.port);
  EXPECT_EQ(s.code, ErrorCode::kUnavailable) << s.message;
  expect_nothing_sent();

  // A segment from off-link cannot be answered either.
  mark();
  provoke_reset(remote);
  expect_nothing_sent();
  expect_counters({{"drop.no_route", 1},
                   {"resets_sent", 1},
                   {"arp_requests_sent", 0},
                   {"packets_sent", 0},
                   {"frames_sent", 0}});
}

}  // namespace
}  // namespace tapstack::engine_test
