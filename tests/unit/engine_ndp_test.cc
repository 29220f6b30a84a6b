// Neighbour Discovery through the engine (RFC 4861, RFC 4862 §5.4): solicitations for our
// addresses answered, DAD probes answered to all-nodes, our own DAD, next hops resolved with
// retries and given up, what advertisements may change, routing on-link and through the router,
// and the multicast Ethernet addresses the engine takes.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <string>
#include <vector>

#include "tests/unit/engine_ipv6_fixture.h"

namespace tapstack::engine_test {
namespace {

using State = net::Ipv6AddressState;

class EngineNdp : public EngineIpv6Test {};

TEST_F(EngineNdp, SolicitationForOurLinkLocalAddressGetsASolicitedAdvertisement) {
  Peer6 peer{.ip = Tins::IPv6Address("fe80::1")};
  deliver(solicitation(peer, peer.ip, kOurLinkLocal));
  SentIcmpv6 na = take_one_icmpv6();
  EXPECT_EQ(na.type, Tins::ICMPv6::NEIGHBOUR_ADVERT);
  EXPECT_EQ(na.eth_destination, peer.mac.to_string());
  EXPECT_EQ(na.ip_source, kOurLinkLocal.to_string());
  EXPECT_EQ(na.ip_destination, "fe80::1");
  EXPECT_EQ(na.hop_limit, 255);
  EXPECT_EQ(na.target, kOurLinkLocal.to_string());
  EXPECT_TRUE(na.solicited);
  EXPECT_TRUE(na.override);
  EXPECT_EQ(na.link_layer_option, kOurMac.to_string());
  // The asker's MAC came with it: its entry is made (§7.2.3).
  expect_counters({{"icmpv6_received", 1},
                   {"ndp_solicitations_received", 1},
                   {"ndp_advertisements_sent", 1},
                   {"ndp_entries_created", 1}});
}

TEST_F(EngineNdp, SolicitationForOurGlobalAddressGetsASolicitedAdvertisement) {
  deliver(solicitation(peer_, peer_.ip, kOurGlobal));
  SentIcmpv6 na = take_one_icmpv6();
  EXPECT_EQ(na.type, Tins::ICMPv6::NEIGHBOUR_ADVERT);
  EXPECT_EQ(na.ip_source, kOurGlobal.to_string());
  EXPECT_EQ(na.ip_destination, peer_.ip.to_string());
  EXPECT_EQ(na.target, kOurGlobal.to_string());
  EXPECT_TRUE(na.solicited && na.override);
  EXPECT_EQ(ndp_table_size(), 1u);
  // The entry is used at once: an echo reply goes straight to the peer, no solicitation first.
  deliver(echo_request(peer_, kOurGlobal));
  SentIcmpv6 reply = take_one_icmpv6();
  EXPECT_EQ(reply.type, Tins::ICMPv6::ECHO_REPLY);
  EXPECT_EQ(reply.eth_destination, peer_.mac.to_string());
}

TEST_F(EngineNdp, ADadProbeForOurAddressIsAnsweredToAllNodes) {
  deliver(solicitation(peer_, Tins::IPv6Address("::"), kOurGlobal));
  SentIcmpv6 na = take_one_icmpv6();
  EXPECT_EQ(na.type, Tins::ICMPv6::NEIGHBOUR_ADVERT);
  EXPECT_EQ(na.eth_destination, kAllNodesMac.to_string());
  EXPECT_EQ(na.ip_destination, "ff02::1");
  EXPECT_EQ(na.ip_source, kOurGlobal.to_string());
  EXPECT_FALSE(na.solicited);  // §7.2.4: to all-nodes, S clear
  EXPECT_TRUE(na.override);
  EXPECT_EQ(ndp_table_size(), 0u) << "a probe teaches nothing";
  EXPECT_EQ(address_states(), (std::vector{State::kPreferred, State::kPreferred}));
}

TEST_F(EngineNdp, SolicitationsForOtherAddressesOrFromAfarAreNotAnswered) {
  // Unicast to us, for another host's address.
  deliver(solicitation(peer_, peer_.ip, Tins::IPv6Address("2001:db8::3"), 255, kOurGlobal));
  expect_nothing_sent();
  expect_counters(
      {{"icmpv6_received", 1}, {"ndp_solicitations_received", 1}, {"drop.ndp_not_for_us", 1}});
  mark();
  // Hop limit 254: a router may have forwarded it (§7.1.1).
  deliver(solicitation(peer_, peer_.ip, kOurGlobal, 254));
  expect_nothing_sent();
  expect_counters({{"icmpv6_received", 1}, {"drop.bad_ndp", 1}});
}

TEST_F(EngineNdp, OurAddressesAreTentativeUntilTheirProbesGoUnanswered) {
  start(ipv6_config(1));
  // One probe per address at start: from ::, to the solicited-node group, no link-layer option.
  ASSERT_EQ(start_frames_.size(), 2u);
  std::vector<std::string> targets;
  for (const Bytes& frame : start_frames_) {
    auto ns = dissect_icmpv6(frame);
    ASSERT_TRUE(ns);
    EXPECT_EQ(ns->type, Tins::ICMPv6::NEIGHBOUR_SOLICIT);
    EXPECT_EQ(ns->ip_source, "::");
    EXPECT_EQ(ns->ip_destination, solicited_node(Tins::IPv6Address(ns->target)).to_string());
    EXPECT_EQ(ns->eth_destination,
              multicast_mac(solicited_node(Tins::IPv6Address(ns->target))).to_string());
    EXPECT_EQ(ns->hop_limit, 255);
    EXPECT_FALSE(ns->link_layer_option);
    targets.push_back(ns->target);
  }
  EXPECT_EQ(targets, (std::vector<std::string>{kOurLinkLocal.to_string(), kOurGlobal.to_string()}));
  EXPECT_EQ(address_states(), (std::vector{State::kTentative, State::kTentative}));
  // Tentative: a ping to it is dropped, and a solicitation is not answered (RFC 4862 §5.4).
  deliver(echo_request(peer_, kOurGlobal));
  deliver(solicitation(peer_, peer_.ip, kOurGlobal));
  expect_nothing_sent();
  EXPECT_EQ(dropped(DropReason::ipv6_tentative), 2u);
  // RetransTimer after the probe, unanswered: preferred.
  advance_by(net::Ndp::kRetransTimer - milliseconds(1));
  EXPECT_EQ(address_states(), (std::vector{State::kTentative, State::kTentative}));
  advance_by(milliseconds(1));
  EXPECT_EQ(address_states(), (std::vector{State::kPreferred, State::kPreferred}));
  deliver(echo_request(peer_, kOurGlobal));
  EXPECT_FALSE(sent().empty()) << "the preferred address answers";
}

// The probes wait for the first tick: the thread that builds an engine is not its loop's, and an
// io_uring link belongs to the thread that first submits to it (the daemon's loop spun on EEXIST
// when DAD probed from the constructor).
TEST_F(EngineNdp, TheEngineSendsNothingUntilItsFirstTick) {
  RecordingSink sink;
  Engine engine(ipv6_config(1), sink, tcp::KeySource::seeded(kSeed), kStart);
  EXPECT_TRUE(sink.frames.empty());
  engine.advance(kStart);
  EXPECT_EQ(sink.frames.size(), 2u);
}

TEST_F(EngineNdp, SeveralProbesAreSentRetransTimerApart) {
  start(ipv6_config(3));
  EXPECT_EQ(start_frames_.size(), 2u);
  for (int probe = 2; probe <= 3; ++probe) {
    advance_silently_to_just_before(kStart + (probe - 1) * net::Ndp::kRetransTimer);
    advance_to(kStart + (probe - 1) * net::Ndp::kRetransTimer);
    EXPECT_EQ(take_icmpv6().size(), 2u) << "probe " << probe;
  }
  advance_to(kStart + 3 * net::Ndp::kRetransTimer - milliseconds(1));
  EXPECT_EQ(address_states(), (std::vector{State::kTentative, State::kTentative}));
  advance_to(kStart + 3 * net::Ndp::kRetransTimer);
  EXPECT_EQ(address_states(), (std::vector{State::kPreferred, State::kPreferred}));
  expect_counters({{"ndp_solicitations_sent", 4}});
}

TEST_F(EngineNdp, AnAdvertisementForATentativeAddressMakesItDuplicate) {
  start(ipv6_config(1));
  deliver(advertisement(peer_, kOurGlobal, peer_.mac, false, true, kAllNodes));
  EXPECT_EQ(address_states(), (std::vector{State::kTentative, State::kDuplicate}));
  advance_by(seconds(5));
  EXPECT_EQ(address_states(), (std::vector{State::kPreferred, State::kDuplicate})) << "never used";
  // Not ours any more to answer for or to take packets at.
  deliver(solicitation(peer_, peer_.ip, kOurGlobal));
  deliver(echo_request(peer_, kOurGlobal));
  expect_nothing_sent();
  expect_counters({{"icmpv6_received", 2},
                   {"ndp_advertisements_received", 1},
                   {"ndp_solicitations_received", 1},
                   {"ipv6_duplicate_addresses", 1},
                   {"drop.ndp_not_for_us", 1},
                   {"drop.ipv6_tentative", 1}});
}

// A host that holds the address defends it as Linux's ndisc_send_na does: the advertisement comes
// from the address itself, which is ours too, and must still reach DAD (RFC 4862 §5.4.4). Any
// other packet from our own address is spoofed. And a duplicate address is nobody's to bind.
TEST_F(EngineNdp, ADefenceFromTheAddressItselfMakesOursDuplicate) {
  start(ipv6_config(1));
  Peer6 defender{kOurGlobal, peer_.mac};
  deliver(advertisement(defender, kOurGlobal, peer_.mac, false, true, kAllNodes));
  EXPECT_EQ(address_states(), (std::vector{State::kTentative, State::kDuplicate}));
  deliver(echo_request(peer_, kOurLinkLocal, 1, kOurGlobal));
  expect_nothing_sent();
  EXPECT_EQ(dropped(DropReason::ipv6_invalid_source), 1u);
  EndpointId id = *engine().create_endpoint();
  EXPECT_EQ(engine().bind(id, IpAddress(*Ipv6Address::parse(kOurGlobal.to_string())), 80).code,
            ErrorCode::kUnavailable);
}

TEST_F(EngineNdp, ATentativeAddressIsBoundOnlyOnceDadPassedIt) {
  start(ipv6_config(1));
  const IpAddress ours = *Ipv6Address::parse(kOurGlobal.to_string());
  EndpointId id = *engine().create_endpoint();
  EXPECT_EQ(engine().bind(id, ours, 80).code, ErrorCode::kUnavailable);
  advance_by(net::Ndp::kRetransTimer);
  EXPECT_TRUE(engine().bind(id, ours, 80).is_ok());
}

TEST_F(EngineNdp, AnotherHostsProbeForATentativeAddressMakesItDuplicate) {
  start(ipv6_config(1));
  deliver(solicitation(peer_, Tins::IPv6Address("::"), kOurLinkLocal));
  expect_nothing_sent();
  EXPECT_EQ(address_states(), (std::vector{State::kDuplicate, State::kTentative}));
  EXPECT_EQ(stats().ipv6_duplicate_addresses.get(), 1u);
}

TEST_F(EngineNdp, AnAdvertisementForAPreferredAddressKeepsIt) {
  deliver(advertisement(peer_, kOurGlobal, peer_.mac, false, true, kAllNodes));
  EXPECT_EQ(address_states(), (std::vector{State::kPreferred, State::kPreferred}));
  expect_counters({{"icmpv6_received", 1},
                   {"ndp_advertisements_received", 1},
                   {"drop.ndp_address_conflict", 1}});
}

TEST_F(EngineNdp, NextHopsAreResolvedBySolicitationToTheirGroup) {
  // An echo request from a peer we have no entry for: the reply waits for resolution.
  deliver(Bytes(echo_request(peer_, kOurGlobal)));
  SentIcmpv6 ns = take_one_icmpv6();
  EXPECT_EQ(ns.type, Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  EXPECT_EQ(ns.target, peer_.ip.to_string());
  EXPECT_EQ(ns.ip_source, kOurGlobal.to_string());
  EXPECT_EQ(ns.ip_destination, "ff02::1:ff00:1");
  EXPECT_EQ(ns.eth_destination, "33:33:ff:00:00:01");
  EXPECT_EQ(ns.link_layer_option, kOurMac.to_string());
  EXPECT_EQ(engine().ndp_pending_bytes(), 14u + 40 + 8 + 4);
  // The solicited answer releases it.
  deliver(advertisement(peer_, peer_.ip, peer_.mac, true, true));
  SentIcmpv6 reply = take_one_icmpv6();
  EXPECT_EQ(reply.type, Tins::ICMPv6::ECHO_REPLY);
  EXPECT_EQ(reply.eth_destination, peer_.mac.to_string());
  EXPECT_EQ(engine().ndp_pending_bytes(), 0u);
  expect_counters({{"icmpv6_received", 2},
                   {"icmpv6_sent", 1},
                   {"ndp_solicitations_sent", 1},
                   {"ndp_advertisements_received", 1},
                   {"ndp_entries_created", 1}});
}

TEST_F(EngineNdp, AResolutionIsRetriedThenGivenUp) {
  deliver(echo_request(peer_, kOurGlobal));
  EXPECT_EQ(take_icmpv6().size(), 1u);
  for (int retry = 1; retry < 3; ++retry) {
    advance_silently_to_just_before(kStart + retry * seconds(1));
    advance_to(kStart + retry * seconds(1));
    SentIcmpv6 ns = take_one_icmpv6();
    EXPECT_EQ(ns.type, Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  }
  advance_silently_to_just_before(kStart + seconds(3));
  advance_to(kStart + seconds(3));
  expect_nothing_sent();
  EXPECT_EQ(ndp_table_size(), 0u);
  EXPECT_EQ(engine().ndp_pending_bytes(), 0u);
  expect_counters({{"icmpv6_received", 1},
                   {"icmpv6_sent", 1},
                   {"ndp_solicitations_sent", 3},
                   {"ndp_entries_created", 1},
                   {"ndp_entries_removed", 1},
                   {"drop.ndp_failed", 1}});
}

TEST_F(EngineNdp, UnsolicitedAdvertisementsOnlyUpdateEntriesThatExist) {
  deliver(advertisement(peer_, peer_.ip, peer_.mac, false, true));
  expect_counters(
      {{"icmpv6_received", 1}, {"ndp_advertisements_received", 1}, {"drop.ndp_unsolicited", 1}});
  EXPECT_EQ(ndp_table_size(), 0u);

  introduce(peer_);
  const Tins::HWAddress<6> moved("02:00:00:00:00:77");
  advance_by(seconds(2));  // past locktime
  // Without the Override flag a known MAC stays (§7.2.5); with it, it is replaced.
  deliver(advertisement(peer_, peer_.ip, moved, false, false));
  EXPECT_EQ(dropped(DropReason::ndp_locked), 1u);
  deliver(echo_request(peer_, kOurGlobal));
  EXPECT_EQ(take_one_icmpv6().eth_destination, peer_.mac.to_string());
  deliver(advertisement(peer_, peer_.ip, moved, false, true));
  deliver(echo_request(peer_, kOurGlobal, 2));
  EXPECT_EQ(take_one_icmpv6().eth_destination, moved.to_string());
}

TEST_F(EngineNdp, OffLinkDestinationsGoThroughTheRouter) {
  const Peer6 far{.ip = Tins::IPv6Address("2001:db8:1::5")};
  deliver(echo_request(far, kOurGlobal));
  expect_nothing_sent();
  EXPECT_EQ(dropped(DropReason::no_route), 1u) << "no router configured";

  EngineConfig config = ipv6_config();
  config.ipv6_gateway = *Ipv6Address::parse("fe80::99");
  start(config);
  deliver(echo_request(far, kOurGlobal));
  SentIcmpv6 ns = take_one_icmpv6();
  EXPECT_EQ(ns.type, Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  EXPECT_EQ(ns.target, "fe80::99");
  EXPECT_EQ(ns.ip_source, kOurLinkLocal.to_string()) << "a link-local target is asked from ours";
}

TEST_F(EngineNdp, FramesToOurGroupsMulticastAddressesAreTaken) {
  // The solicited-node group of our global address, and all-nodes.
  Peer6 asker{.ip = Tins::IPv6Address("fe80::1")};
  deliver(solicitation(asker, asker.ip, kOurLinkLocal));  // to our link-local group
  EXPECT_EQ(take_icmpv6().size(), 1u);
  deliver(echo_request(asker, kAllNodes));
  SentIcmpv6 reply = take_one_icmpv6();
  EXPECT_EQ(reply.type, Tins::ICMPv6::ECHO_REPLY);
  EXPECT_EQ(reply.ip_source, kOurLinkLocal.to_string()) << "a group's echo is answered from ours";
  deliver(solicitation(peer_, peer_.ip, kOurGlobal));
  EXPECT_EQ(take_icmpv6().size(), 1u);
  // Another host's solicited-node group is not ours to read.
  mark();
  deliver(solicitation(peer_, peer_.ip, Tins::IPv6Address("2001:db8::99")));
  expect_nothing_sent();
  expect_counters({{"drop.not_our_mac", 1}});
}

}  // namespace
}  // namespace tapstack::engine_test
