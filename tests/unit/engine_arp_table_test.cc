// The neighbour table, held to Linux's rules (arp_process, neigh_alloc, neigh_forced_gc,
// neigh_periodic_work): who creates entries, who may change them and when, the permanent
// gateway entry, the total bound on frames waiting for resolution, and a failed resolution
// ending a connect as unreachable. The gc thresholds, which the IPv6 table shares, are tested
// for both families in engine_neighbour_table_test.cc.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <string>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineArpTable : public EngineTest {
 protected:
  // Entries now in the table, from the counters alone.
  uint64_t table_size() const {
    return stats().arp_entries_created.get() - stats().arp_entries_removed.get();
  }
  // A SYN to a closed port: the engine's one answer (a RST) shows which MAC it uses for `peer`,
  // or that it has to resolve the peer first (an ARP request instead).
  std::optional<SentSegment> reset_for(const Peer& peer) {
    send(peer, 81, {.flags = kSyn, .seq = 100});
    auto frames = take_frames();
    if (frames.size() != 1) {
      ADD_FAILURE() << frames.size() << " frames sent, expected one";
      return std::nullopt;
    }
    return dissect_tcp(frames.front());  // nullopt: an ARP request went out instead
  }
  // Moves the clock by `d` in 10 ms steps, so that every timer fires at its own time.
  void advance_step_by_step(Duration d) {
    for (Time end = now() + d; now() < end;) advance_to(std::min(end, now() + milliseconds(10)));
  }
  Peer peer_;
};

TEST_F(EngineArpTable, UnsolicitedReplyCreatesNoEntry) {
  learn(peer_);  // a reply nobody asked for
  expect_counters({{"arp_replies_received", 1}, {"drop.arp_unsolicited", 1}});
  EXPECT_EQ(table_size(), 0u);
  EXPECT_FALSE(reset_for(peer_)) << "the unsolicited reply's MAC was used";
}

TEST_F(EngineArpTable, WhoHasForAnotherAddressCreatesNoEntry) {
  deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, peer_.ip, Tins::HWAddress<6>(),
                    Tins::IPv4Address("198.18.0.3")));
  expect_nothing_sent();
  EXPECT_EQ(table_size(), 0u);
  EXPECT_FALSE(reset_for(peer_));
}

TEST_F(EngineArpTable, SendersOffLinkOrMartianAreIgnored) {
  for (const char* sender : {"10.0.0.1", "127.0.0.1", "224.0.0.5", "198.18.0.255", "198.18.0.2"}) {
    SCOPED_TRACE(sender);
    mark();
    deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, Tins::IPv4Address(sender),
                      Tins::HWAddress<6>(), kOurIp));
    expect_nothing_sent();
    expect_counters({{"arp_requests_received", 1}, {"drop.arp_bad_sender", 1}});
  }
  EXPECT_EQ(table_size(), 0u);
}

TEST_F(EngineArpTable, KnownMacIsNotReplacedWithinLocktime) {
  introduce(peer_);
  Peer spoofer = peer_;
  spoofer.mac = Tins::HWAddress<6>("02:00:00:00:00:bb");
  // A gratuitous reply claiming the peer's address at once: refused, the entry keeps its MAC.
  advance_by(milliseconds(999));
  mark();
  learn(spoofer);
  expect_counters({{"arp_replies_received", 1}, {"drop.arp_locked", 1}});
  EXPECT_EQ(reset_for(peer_)->eth_destination, peer_.mac.to_string());
  // A confirmation with the same MAC is no change and renews the entry (and its lock).
  learn(peer_);
  advance_by(milliseconds(999));
  learn(spoofer);
  EXPECT_EQ(dropped(DropReason::arp_locked), 2u);
  // After locktime an announcement may move the address (a failover), as in Linux.
  advance_by(milliseconds(1));
  learn(spoofer);
  EXPECT_EQ(dropped(DropReason::arp_locked), 2u);
  EXPECT_EQ(reset_for(peer_)->eth_destination, spoofer.mac.to_string());
  EXPECT_EQ(table_size(), 1u);
}

TEST_F(EngineArpTable, StaticGatewayEntryIsUsedWithoutArpAndNeverChanged) {
  Peer gateway{.ip = Tins::IPv4Address("198.18.0.254"),
               .mac = Tins::HWAddress<6>("02:00:00:00:00:fe")};
  EngineConfig config;
  config.gateway = to_engine(gateway.ip);
  config.gateway_mac = MacAddress::parse(gateway.mac.to_string());
  restart(config);
  Peer remote{.ip = Tins::IPv4Address("203.0.113.7"), .mac = gateway.mac, .port = 443};
  Peer impostor = gateway;
  impostor.mac = Tins::HWAddress<6>("02:00:00:00:00:bb");

  // Neither a reply, nor a who-has for us, nor an hour changes it or makes us resolve it.
  learn(impostor);
  introduce(impostor);
  expect_counters({{"arp_replies_received", 1},
                   {"arp_requests_received", 1},
                   {"arp_replies_sent", 1},
                   {"drop.arp_static", 2}});
  advance_by(seconds(3600));
  auto id = engine().create_endpoint();
  ASSERT_TRUE(engine().connect(*id, remote.address(), remote.port).is_ok());
  SentSegment syn = take_segment();
  EXPECT_EQ(syn.eth_destination, gateway.mac.to_string());
  EXPECT_EQ(syn.ip_destination, remote.ip.to_string());
  EXPECT_EQ(stats().arp_requests_sent.get(), 0u);
}

TEST_F(EngineArpTable, FramesWaitingForResolutionAreBoundedInTotal) {
  EngineConfig config;
  config.arp_queue_bytes_limit = 3 * 54;  // three RSTs (14 + 20 + 20 bytes each)
  restart(config);
  for (int host = 10; host < 14; ++host) {
    Peer peer{.ip = Tins::IPv4Address("198.18.0." + std::to_string(host))};
    send(peer, 81, {.flags = kSyn, .seq = 100});
  }
  EXPECT_EQ(engine().arp_pending_bytes(), 3u * 54);
  expect_counters({{"arp_requests_sent", 4},
                   {"arp_entries_created", 4},
                   {"resets_sent", 4},
                   {"drop.arp_queue_bytes_full", 1},
                   {"packets_sent", 0}});
  // Failed resolutions give the room back.
  advance_step_by_step(seconds(3));
  EXPECT_EQ(engine().arp_pending_bytes(), 0u);
  EXPECT_EQ(table_size(), 0u);
}

TEST_F(EngineArpTable, NoArpReplyEndsConnectAsUnreachableAfterTheRetries) {
  Peer absent{.ip = Tins::IPv4Address("198.18.0.77"), .port = 80};
  auto id = engine().create_endpoint();
  ASSERT_TRUE(engine().connect(*id, absent.address(), absent.port).is_ok());
  advance_step_by_step(seconds(3) - milliseconds(1));
  EXPECT_EQ(state_of(*id), TcpState::kSynSent);
  advance_by(milliseconds(1));
  ASSERT_EQ(count_events(Event::Kind::kUnreachable, *id), 1u);
  auto it = std::find_if(events_.begin(), events_.end(),
                         [](const Event& e) { return e.kind == Event::Kind::kUnreachable; });
  EXPECT_EQ(it->reason, "host unreachable (no ARP reply)");
  EXPECT_EQ(it->state, TcpState::kClosed);
  EXPECT_EQ(state_of(*id), TcpState::kClosed);
  // The SYN and its retransmissions at +1 s and +3 s waited: three frames failed, and the
  // first of them ended the connect.
  expect_counters({{"active_opens", 1},
                   {"syn_retransmits", 2},
                   {"arp_requests_sent", 3},
                   {"arp_entries_created", 1},
                   {"arp_entries_removed", 1},
                   {"drop.arp_failed", 3},
                   {"attempt_fails", 1},
                   {"unreachable_aborts", 1},
                   {"connections_closed", 1}});
  EXPECT_EQ(engine().next_deadline(), std::nullopt);
}

}  // namespace
}  // namespace tapstack::engine_test
