// Loss recovery with SACK (RFC 6675): the peer's SACK blocks fill the scoreboard, IsLost()
// starts recovery, NextSeg() picks every hole once, and no retransmission timer is needed.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/engine_data_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineSackRecovery : public EngineData {
 protected:
  // A duplicate ACK of data byte `acked` reporting our segments [first, last) as SACKed, each
  // range in `segments` given by segment numbers (segment n carries bytes n*kMss..).
  void peer_sacks(size_t acked, std::vector<std::pair<size_t, size_t>> segments) {
    SegmentSpec spec = from_peer(acked);
    for (auto [first, last] : segments) spec.sack.emplace_back(at(first * kMss), at(last * kMss));
    peer_sends(spec);
  }
  // The segment numbers of what was sent (by their first byte).
  std::multiset<size_t> segment_numbers(const std::vector<SentSegment>& sent) const {
    std::multiset<size_t> numbers;
    for (const auto& s : sent) numbers.insert((s.seq - at(0)) / kMss);
    return numbers;
  }
};

TEST_F(EngineSackRecovery, OneLossIsRepairedOnceWhenThreeSegmentsAboveItAreSacked) {
  write(data(6 * kMss));
  ASSERT_EQ(out().size(), 6u);
  mark();
  peer_acks(kMss);  // segment 1 is lost
  peer_sacks(kMss, {{2, 3}});
  peer_sacks(kMss, {{2, 4}});
  EXPECT_TRUE(out().empty()) << "two segments SACKed above are no loss yet (DupThresh 3)";
  peer_sacks(kMss, {{2, 5}});
  auto sent = out();
  ASSERT_EQ(sent.size(), 1u);
  expect_data(sent[0], kMss, kMss);
  peer_sacks(kMss, {{2, 6}});  // the last one arrives too: nothing more to repair
  EXPECT_TRUE(out().empty());
  peer_acks(6 * kMss);
  EXPECT_TRUE(out().empty());
  expect_counters({{"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 1},
                   {"data_bytes_sent", kMss}});
}

TEST_F(EngineSackRecovery, TwoHolesInOneWindowAreBothRepairedWithoutATimeout) {
  write(data(8 * kMss));
  ASSERT_EQ(out().size(), 8u);
  mark();
  peer_acks(kMss);  // segments 1 and 4 are lost
  std::vector<SentSegment> sent;
  auto collect = [&] {
    for (auto& s : out()) sent.push_back(s);
  };
  peer_sacks(kMss, {{2, 3}});
  collect();
  peer_sacks(kMss, {{2, 4}});
  collect();
  peer_sacks(kMss, {{5, 6}, {2, 4}});
  collect();
  peer_sacks(kMss, {{5, 7}, {2, 4}});
  collect();
  peer_sacks(kMss, {{5, 8}, {2, 4}});
  collect();
  EXPECT_EQ(segment_numbers(sent), (std::multiset<size_t>{1, 4}));
  peer_acks(4 * kMss);  // a partial ACK: segment 1 arrived, 4 is on its way
  collect();
  peer_acks(8 * kMss);
  collect();
  EXPECT_EQ(segment_numbers(sent), (std::multiset<size_t>{1, 4})) << "nothing twice";
  // Segment 4 is found lost by RACK (sent before 5, which arrived) before DupThresh would.
  expect_counters({{"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"rack_lost_segments", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 2},
                   {"data_bytes_sent", 2 * kMss}});
}

TEST_F(EngineSackRecovery, BlocksOutsideWhatWasSentAreIgnored) {
  write(data(4 * kMss));
  ASSERT_EQ(out().size(), 4u);
  mark();
  // Blocks an attacker made up, beyond SND.NXT and inverted, in two duplicate ACKs (one short
  // of DupThresh): taken at face value, four segments SACKed above SND.UNA would start a
  // recovery (IsLost) and a retransmission.
  peer_sacks(0, {{5, 9}, {10, 20}});
  peer_sacks(0, {{3, 1}, {4, 8}});
  EXPECT_TRUE(out().empty());
  expect_counters({});
}

}  // namespace
}  // namespace tapstack::engine_test
