// RFC 6675's scoreboard: IsLost (three SACKed segments above, or three discontiguous ranges),
// NextSeg's rule order (lost holes, then new data, then holes not yet lost), SetPipe with
// retransmissions, the cumulative ACK, the bound on ranges, blocks that are invalid or out of
// the window, D-SACK (RFC 2883), and sequence numbers that wrap.
#include "stack/tcp/sack_scoreboard.h"

#include <gtest/gtest.h>

#include <vector>

namespace tapstack::tcp {
namespace {

constexpr uint32_t kMss = 1000;
using Kind = NextSegment::Kind;

class SackScoreboardTest : public ::testing::Test {
 protected:
  explicit SackScoreboardTest(uint32_t una = 1'000'000) : una_(una), board_(kMss, una) {}

  // Ten segments of kMss are outstanding: [una, una + 10000).
  uint32_t seq(uint32_t offset) const { return una_ + offset; }
  uint32_t high() const { return seq(10 * kMss); }
  // An ACK of SND.UNA (the scoreboard's) with `blocks`.
  SackUpdate sack(std::vector<SackBlock> blocks) {
    return board_.on_sack(blocks, board_.snd_una(), high());
  }
  SackBlock block(uint32_t from, uint32_t to) const { return {seq(from), seq(to)}; }

  uint32_t una_;
  SackScoreboard board_;
};

TEST_F(SackScoreboardTest, ThreeSegmentsSackedAboveMakeAHoleLost) {
  sack({block(1000, 2000)});
  EXPECT_FALSE(board_.is_lost(seq(0)));
  sack({block(2000, 3000)});
  EXPECT_FALSE(board_.is_lost(seq(0)));  // 2 * SMSS above is not more than (DupThresh - 1) * SMSS
  sack({block(3000, 4000)});
  EXPECT_TRUE(board_.is_lost(seq(0)));
  EXPECT_TRUE(board_.is_lost(seq(999)));
  EXPECT_FALSE(board_.is_lost(seq(1500)));  // SACKed bytes are not lost
  EXPECT_FALSE(board_.is_lost(seq(4000)));  // nothing SACKed above
  EXPECT_EQ(board_.sacked_bytes(), 3 * kMss);
  EXPECT_EQ(board_.ranges().size(), 1u);  // adjacent blocks merge
}

TEST_F(SackScoreboardTest, ThreeDiscontiguousRangesMakeAHoleLostWhateverTheirSize) {
  sack({block(2000, 2100), block(4000, 4100), block(6000, 6100)});
  EXPECT_TRUE(board_.is_lost(seq(0)));
  EXPECT_TRUE(board_.is_lost(seq(1999)));
  EXPECT_FALSE(board_.is_lost(seq(2100)));  // two ranges and 200 bytes above
  EXPECT_FALSE(board_.is_lost(seq(5000)));
  EXPECT_EQ(board_.ranges().size(), 3u);
}

TEST_F(SackScoreboardTest, NextSegFollowsTheRuleOrder) {
  // Segments 4-6 and 9 SACKed: 1-3 lost (3 segments above), 7-8 not (only one above).
  sack({block(3000, 6000), block(8000, 9000)});
  // Rule 1: the lost holes in order, each retransmission moving HighRxt.
  for (uint32_t off : {0u, 1000u, 2000u}) {
    const NextSegment next = board_.next_seg(high(), 5 * kMss);
    EXPECT_EQ(next.kind, Kind::kLost);
    EXPECT_EQ(next.begin, seq(off));
    EXPECT_EQ(next.end, seq(off + kMss));
    board_.on_retransmit(next.begin, next.end);
  }
  // Rule 2: new data next, one segment at most, no more than the window allows.
  NextSegment next = board_.next_seg(high(), 5 * kMss);
  EXPECT_EQ(next.kind, Kind::kNewData);
  EXPECT_EQ(next.begin, high());
  EXPECT_EQ(next.end, high() + kMss);
  EXPECT_EQ(board_.next_seg(high(), 300).end, high() + 300);
  // Rule 3: without new data, the hole below the highest SACK that is not yet lost.
  next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.kind, Kind::kUnsacked);
  EXPECT_EQ(next.begin, seq(6000));
  EXPECT_EQ(next.end, seq(7000));
  board_.on_retransmit(next.begin, next.end);
  next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.begin, seq(7000));
  board_.on_retransmit(next.begin, next.end);
  // Nothing left below the highest SACK: data above it is not sent by rule 3.
  EXPECT_EQ(board_.next_seg(high(), 0).kind, Kind::kNone);
}

TEST_F(SackScoreboardTest, RetransmissionStopsAtTheNextSackedRange) {
  sack({block(500, 4000)});
  const NextSegment next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.kind, Kind::kLost);
  EXPECT_EQ(next.begin, seq(0));
  EXPECT_EQ(next.end, seq(500));
}

TEST_F(SackScoreboardTest, PipeCountsUnlostAndRetransmittedBytes) {
  EXPECT_EQ(board_.pipe(high()), 10 * kMss);  // nothing SACKed: all in flight
  sack({block(3000, 6000)});
  // Lost: [0, 3000). In flight: [6000, 10000).
  EXPECT_EQ(board_.pipe(high()), 4 * kMss);
  board_.begin_retransmission();
  board_.on_retransmit(seq(0), seq(1000));
  EXPECT_EQ(board_.pipe(high()), 5 * kMss);  // the retransmission is in flight again
  board_.on_retransmit(seq(1000), seq(2000));
  EXPECT_EQ(board_.pipe(high()), 6 * kMss);
}

TEST_F(SackScoreboardTest, PipeCountsARetransmittedUnlostHoleTwice) {
  sack({block(3000, 6000), block(8000, 9000)});
  const uint32_t before = board_.pipe(high());
  EXPECT_EQ(before, 3 * kMss);   // [6000, 8000) and [9000, 10000)
  for (int i = 0; i < 4; ++i) {  // rule 1 three times, then rule 3 for [6000, 7000)
    const NextSegment next = board_.next_seg(high(), 0);
    board_.on_retransmit(next.begin, next.end);
  }
  // Three lost segments resent count once; the unlost one resent counts a second time.
  EXPECT_EQ(board_.pipe(high()), before + 4 * kMss);
}

// RACK's marks (RFC 8985) are lost too, below HighRxt as well (a retransmission lost again),
// count in pipe neither as in flight nor as retransmitted, and end with their retransmission.
TEST_F(SackScoreboardTest, RackMarksAreLostUntilRetransmitted) {
  sack({block(3000, 6000)});  // [0, 3000) lost by DupThresh
  board_.begin_retransmission();
  for (uint32_t off : {0u, 1000u, 2000u}) board_.on_retransmit(seq(off), seq(off + kMss));
  EXPECT_EQ(board_.pipe(high()), 7 * kMss);  // three resent, [6000, 10000) in flight
  EXPECT_FALSE(board_.first_lost());
  board_.mark_lost(seq(1000), seq(2000));  // the second retransmission was lost
  board_.mark_lost(seq(7000), seq(8000));  // and a segment with too little SACKed above
  EXPECT_TRUE(board_.is_lost(seq(1500)));
  EXPECT_TRUE(board_.is_lost(seq(7000)));
  EXPECT_FALSE(board_.is_lost(seq(6000)));
  EXPECT_EQ(board_.pipe(high()), 5 * kMss);
  NextSegment next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.kind, Kind::kLost);
  EXPECT_EQ(next.begin, seq(1000));
  EXPECT_EQ(next.end, seq(2000));
  board_.on_retransmit(next.begin, next.end);
  EXPECT_EQ(board_.pipe(high()), 6 * kMss);  // in flight again
  next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.kind, Kind::kLost);
  EXPECT_EQ(next.begin, seq(7000));
  board_.on_retransmit(next.begin, next.end);
  EXPECT_FALSE(board_.first_lost());
  board_.mark_lost(seq(8000), seq(9000));
  board_.on_ack(seq(9000));  // the cumulative ACK covers the mark
  EXPECT_FALSE(board_.first_lost());
}

TEST_F(SackScoreboardTest, CumulativeAckForgetsWhatItCovers) {
  sack({block(2000, 4000), block(6000, 8000)});
  board_.on_retransmit(seq(0), seq(1000));
  board_.on_ack(seq(3000));  // into the first range
  EXPECT_EQ(board_.snd_una(), seq(3000));
  EXPECT_EQ(board_.sacked_bytes(), 3 * kMss);
  ASSERT_EQ(board_.ranges().size(), 2u);
  EXPECT_EQ(board_.ranges()[0], block(3000, 4000));
  EXPECT_EQ(board_.high_rxt(), seq(3000));  // HighRxt never falls below SND.UNA
  board_.on_ack(seq(9000));
  EXPECT_EQ(board_.sacked_bytes(), 0u);
  EXPECT_TRUE(board_.ranges().empty());
  board_.on_ack(seq(5000));  // an old ACK changes nothing
  EXPECT_EQ(board_.snd_una(), seq(9000));
}

TEST_F(SackScoreboardTest, InvalidAndOutOfWindowBlocksAreIgnored) {
  const SackUpdate update = sack({
      block(5000, 5000),                  // empty
      block(6000, 4000),                  // inverted
      block(9000, 11000),                 // beyond HighData
      {seq(0) - 500, seq(500)},           // straddles SND.UNA (not first: no D-SACK)
      {seq(0) + 0x80000000u, seq(1000)},  // nonsense far away
  });
  EXPECT_EQ(update.ignored, 5u);
  EXPECT_FALSE(update.dsack);
  EXPECT_TRUE(board_.ranges().empty());
  EXPECT_EQ(board_.sacked_bytes(), 0u);
}

TEST_F(SackScoreboardTest, DsackBelowTheCumulativeAckIsReportedNotRecorded) {
  board_.on_ack(seq(2000));
  const SackUpdate update = sack({block(1000, 2000), block(4000, 5000)});
  ASSERT_TRUE(update.dsack);
  EXPECT_EQ(*update.dsack, block(1000, 2000));
  EXPECT_EQ(update.newly_sacked, kMss);
  ASSERT_EQ(board_.ranges().size(), 1u);
  EXPECT_EQ(board_.ranges()[0], block(4000, 5000));
}

// ACKs reordered on the way: an older one SACKs what a newer one has since acknowledged. Below
// SND.UNA but above its own ACK, that block is stale, not a duplicate.
TEST_F(SackScoreboardTest, AStaleSackFromAnOldAckIsNoDsack) {
  board_.on_ack(seq(3000));
  const SackUpdate update = board_.on_sack(std::vector{block(1000, 2000)}, seq(0), high());
  EXPECT_FALSE(update.dsack);
  EXPECT_EQ(update.ignored, 1u);
  EXPECT_TRUE(board_.ranges().empty());
}

TEST_F(SackScoreboardTest, DsackInsideTheSecondBlockIsReportedNotRecordedTwice) {
  sack({block(4000, 6000)});
  const SackUpdate update = sack({block(4000, 5000), block(4000, 6000)});
  ASSERT_TRUE(update.dsack);
  EXPECT_EQ(*update.dsack, block(4000, 5000));
  EXPECT_EQ(update.newly_sacked, 0u);
  EXPECT_EQ(board_.sacked_bytes(), 2 * kMss);
}

TEST_F(SackScoreboardTest, RepeatedBlocksAreNotNewlySacked) {
  EXPECT_EQ(sack({block(4000, 6000)}).newly_sacked, 2 * kMss);
  EXPECT_EQ(sack({block(5000, 7000), block(4000, 6000)}).newly_sacked, kMss);
  EXPECT_EQ(board_.sacked_bytes(), 3 * kMss);
}

TEST_F(SackScoreboardTest, RangesAreBoundedWhateverThePeerSends) {
  // Every other 10-byte piece of a large window SACKed, four blocks per ACK as an attacker
  // might: the scoreboard keeps the lowest kMaxRanges ranges.
  const uint32_t far = seq(1'000'000);
  for (uint32_t off = 10; off < 20'000; off += 80) {
    std::vector<SackBlock> blocks;
    for (uint32_t i = 0; i < 4; ++i) blocks.push_back(block(off + 20 * i, off + 20 * i + 10));
    board_.on_sack(blocks, board_.snd_una(), far);
  }
  EXPECT_EQ(board_.ranges().size(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(board_.ranges().front(), block(10, 20));
  EXPECT_EQ(board_.sacked_bytes(), SackScoreboard::kMaxRanges * 10);
}

class SackScoreboardWrapTest : public SackScoreboardTest {
 protected:
  SackScoreboardWrapTest() : SackScoreboardTest(0xFFFFF000u) {}  // 4096 bytes before the wrap
};

TEST_F(SackScoreboardWrapTest, WorksAcrossTheWrap) {
  sack({block(3000, 6000)});  // crosses 2^32
  EXPECT_EQ(board_.sacked_bytes(), 3 * kMss);
  EXPECT_TRUE(board_.is_lost(seq(0)));
  EXPECT_TRUE(board_.is_sacked(seq(4500)));
  EXPECT_FALSE(board_.is_lost(seq(7000)));
  const NextSegment next = board_.next_seg(high(), 0);
  EXPECT_EQ(next.kind, Kind::kLost);
  EXPECT_EQ(next.begin, seq(0));
  EXPECT_EQ(board_.pipe(high()), 4 * kMss);
  board_.on_ack(seq(4500));
  EXPECT_EQ(board_.sacked_bytes(), 1500u);
  EXPECT_EQ(board_.high_sacked(), seq(6000));
}

}  // namespace
}  // namespace tapstack::tcp
