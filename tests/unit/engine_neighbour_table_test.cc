// The neighbour table's bounds, for ARP and NDP alike (one table class, one table per family
// under the same EngineConfig bounds), held to Linux's neigh_alloc, neigh_forced_gc and
// neigh_periodic_work: a flood of requests for our address from new senders stops at
// gc_thresh3, a forced collection brings it down to gc_thresh2, the periodic one takes stale
// entries above gc_thresh1, and nothing is collected below it.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <string>

#include "tests/unit/engine_ipv6_fixture.h"

namespace tapstack::engine_test {
namespace {

enum class Family { kArp, kNdp };

std::string family_name(const ::testing::TestParamInfo<Family>& info) {
  return info.param == Family::kArp ? "Arp" : "Ndp";
}

class EngineNeighbourTable : public EngineIpv6Test, public ::testing::WithParamInterface<Family> {
 protected:
  EngineNeighbourTable() {
    EngineConfig config = ipv6_config();
    config.address = *Ipv4Subnet::parse("198.18.0.2/16");  // room for the IPv4 senders
    start(config);
  }
  bool arp() const { return GetParam() == Family::kArp; }
  uint64_t table_size() const {
    return arp() ? stats().arp_entries_created.get() - stats().arp_entries_removed.get()
                 : ndp_table_size();
  }
  uint64_t refused() const {
    return dropped(arp() ? DropReason::arp_table_full : DropReason::ndp_table_full);
  }
  uint64_t answers() const {
    return arp() ? stats().arp_replies_sent.get() : stats().ndp_advertisements_sent.get();
  }
  // `count` requests for our address (a who-has, or a solicitation with the asker's MAC) from
  // distinct on-link senders numbered from `first`.
  void request_flood(uint32_t first, uint32_t count) {
    for (uint32_t i = first; i < first + count; ++i) {
      if (arp()) {
        Tins::IPv4Address sender("198.18." + std::to_string(i / 256) + "." +
                                 std::to_string(i % 256));
        deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer_.mac, sender,
                          Tins::HWAddress<6>(), kOurIp));
      } else {
        Peer6 sender{.ip = Tins::IPv6Address("2001:db8::1:" + std::to_string(i))};
        deliver(solicitation(sender, sender.ip, kOurGlobal));
      }
    }
    sink_.frames.clear();  // the answers
  }
  // Moves the clock by `d` in 10 ms steps, so that every timer fires at its own time.
  void advance_step_by_step(Duration d) {
    for (Time end = now() + d; now() < end;) advance_to(std::min(end, now() + milliseconds(10)));
  }
};

TEST_P(EngineNeighbourTable, FloodFromNewSendersStopsAtThresh3AndIsCollected) {
  request_flood(10, 3000);
  // Every request is answered; only gc_thresh3 (1024) of the askers got an entry: the others
  // found nothing collectable (all updated within 5 s) and were refused.
  EXPECT_EQ(answers(), 3000u);
  EXPECT_EQ(table_size(), 1024u);
  EXPECT_EQ(refused(), 3000u - 1024u);

  // Above thresh2, entries not updated for 5 s go at the next new entry, down to thresh2.
  advance_by(seconds(5));
  request_flood(5000, 1);
  EXPECT_EQ(table_size(), 513u);

  // The periodic collection, above thresh1, takes every entry unused for gc_stale_time: at
  // +60 s the 512 from the flood; the one made at +5 s is then alone, below thresh1, and stays.
  advance_step_by_step(seconds(60) + 2 * net::NeighbourTable<Ipv4Address>::kGcInterval);
  EXPECT_EQ(table_size(), 1u);
  EXPECT_EQ(engine().next_deadline(), std::nullopt);  // below thresh1: no collection timer
}

TEST_P(EngineNeighbourTable, TableBelowThresh1IsNeverCollected) {
  request_flood(10, 127);
  EXPECT_EQ(engine().next_deadline(), std::nullopt);
  advance_step_by_step(seconds(3600));
  EXPECT_EQ(table_size(), 127u);
  // The 128th entry reaches thresh1: stale entries are then collected.
  request_flood(500, 1);
  advance_step_by_step(net::NeighbourTable<Ipv4Address>::kGcInterval);
  EXPECT_EQ(table_size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BothFamilies, EngineNeighbourTable,
                         ::testing::Values(Family::kArp, Family::kNdp), family_name);

}  // namespace
}  // namespace tapstack::engine_test
