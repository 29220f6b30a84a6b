// RACK's reordering window multiplier (RFC 8985 §6.2 step 4): one step per round trip that
// reports a D-SACK, back to 1 after 16 recoveries without one, bounded.
#include "stack/tcp/reorder_window.h"

#include <gtest/gtest.h>

namespace tapstack::tcp {
namespace {

constexpr header::SackBlock kDuplicate{100, 200};  // a retransmission the peer got twice
constexpr uint32_t kMss = 100;

// A D-SACK of `block`, `retransmitted` segments having been sent again (by default more than
// any test's D-SACKs report).
void dsack(ReorderWindowScale& scale, header::SackBlock block, uint32_t snd_nxt,
           uint64_t retransmitted = 1'000'000) {
  scale.on_dsack(
      block,
      {.snd_nxt = snd_nxt, .mss = kMss, .max_window = 64 * 1024, .retransmitted = retransmitted});
}

TEST(ReorderWindowScale, StartsAtOne) {
  ReorderWindowScale scale;
  EXPECT_EQ(scale.multiplier(), 1);
  scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 1);
}

// A D-SACK whose round lasts until SND.UNA reaches `round_end`: another one before then is the
// same episode, most likely, and one after it steps again.
void expect_one_step_per_round(uint32_t round_end) {
  ReorderWindowScale scale;
  dsack(scale, kDuplicate, round_end);
  EXPECT_EQ(scale.multiplier(), 2);
  scale.on_ack(round_end - 32);
  dsack(scale, kDuplicate, round_end + 1000);
  EXPECT_EQ(scale.multiplier(), 2);
  scale.on_ack(round_end);
  dsack(scale, kDuplicate, round_end + 2000);
  EXPECT_EQ(scale.multiplier(), 3);
}

TEST(ReorderWindowScale, GrowsOncePerRoundTripThatReportsADsack) {
  expect_one_step_per_round(5000);
}

TEST(ReorderWindowScale, RoundsCompareAcrossTheSequenceWrap) {
  expect_one_step_per_round(0x10);  // the ACK short of it is at 0xfffffff0
}

TEST(ReorderWindowScale, FallsBackAfterSixteenRecoveriesWithoutADsack) {
  ReorderWindowScale scale;
  dsack(scale, kDuplicate, 100);
  scale.on_ack(100);
  dsack(scale, kDuplicate, 200);
  ASSERT_EQ(scale.multiplier(), 3);
  for (int i = 0; i < ReorderWindowScale::kPersistRecoveries - 1; ++i) scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 3);
  scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 1);
}

TEST(ReorderWindowScale, ADsackStartsTheSixteenAgain) {
  ReorderWindowScale scale;
  dsack(scale, kDuplicate, 100);
  for (int i = 0; i < 10; ++i) scale.on_recovery_end();
  scale.on_ack(100);
  dsack(scale, kDuplicate, 200);
  for (int i = 0; i < ReorderWindowScale::kPersistRecoveries - 1; ++i) scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 3);
}

// TLP is timer-driven: its probe received twice says nothing of reordering (Linux's
// FLAG_DSACK_TLP).
TEST(ReorderWindowScale, ADsackOfTheLastProbeLeavesItAlone) {
  ReorderWindowScale scale;
  scale.on_probe(1000, 1100);
  dsack(scale, {1000, 1100}, 2000);
  EXPECT_EQ(scale.multiplier(), 1);
  dsack(scale, {900, 1000}, 2000);
  EXPECT_EQ(scale.multiplier(), 2);
}

// More duplicates reported than segments ever sent again: the network (or a forger) made them.
TEST(ReorderWindowScale, DsacksBeyondWhatWasSentAgainLeaveItAlone) {
  ReorderWindowScale scale;
  dsack(scale, kDuplicate, 100, 1);
  EXPECT_EQ(scale.multiplier(), 2) << "one segment sent again, one reported twice";
  scale.on_ack(100);
  dsack(scale, kDuplicate, 200, 1);
  EXPECT_EQ(scale.multiplier(), 2) << "a second duplicate of one retransmission";
  scale.on_ack(200);
  dsack(scale, {300, 550}, 600, 4);  // three segments: five reported in all
  EXPECT_EQ(scale.multiplier(), 2);
  dsack(scale, kDuplicate, 700, 6);
  EXPECT_EQ(scale.multiplier(), 3) << "six sent again, six reported";
}

// A block longer than any window the peer offered is no duplicate: not counted, so it cannot
// close the gate.
TEST(ReorderWindowScale, ABlockLongerThanAnyWindowIsNotCounted) {
  ReorderWindowScale scale;
  dsack(scale, {100, 100 + 64 * 1024 + 1}, 100'000, 1);
  EXPECT_EQ(scale.multiplier(), 1);
  dsack(scale, kDuplicate, 100'000, 1);
  EXPECT_EQ(scale.multiplier(), 2) << "the one retransmission's duplicate still counts";
}

TEST(ReorderWindowScale, IsBounded) {
  ReorderWindowScale scale;
  for (uint32_t round = 1; round <= 1000; ++round) {
    dsack(scale, kDuplicate, round * 100);
    scale.on_ack(round * 100);
  }
  EXPECT_EQ(scale.multiplier(), ReorderWindowScale::kMaxMultiplier);
}

}  // namespace
}  // namespace tapstack::tcp
