// RACK's reordering window multiplier (RFC 8985 §6.2 step 4): one step per round trip that
// reports a D-SACK, back to 1 after 16 recoveries without one, bounded.
#include "stack/tcp/reorder_window.h"

#include <gtest/gtest.h>

namespace tapstack::tcp {
namespace {

TEST(ReorderWindowScale, StartsAtOne) {
  ReorderWindowScale scale;
  EXPECT_EQ(scale.multiplier(), 1);
  scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 1);
}

TEST(ReorderWindowScale, GrowsOncePerRoundTripThatReportsADsack) {
  ReorderWindowScale scale;
  scale.on_dsack(5000);  // the round lasts until SND.UNA reaches 5000
  EXPECT_EQ(scale.multiplier(), 2);
  scale.on_ack(4999);
  scale.on_dsack(6000);  // the same round: the same spurious episode, most likely
  EXPECT_EQ(scale.multiplier(), 2);
  scale.on_ack(5000);
  scale.on_dsack(7000);
  EXPECT_EQ(scale.multiplier(), 3);
}

TEST(ReorderWindowScale, RoundsCompareAcrossTheSequenceWrap) {
  ReorderWindowScale scale;
  scale.on_dsack(0x00000010);
  scale.on_ack(0xfffffff0);  // before the wrap: still short of 0x10
  scale.on_dsack(0x00000020);
  EXPECT_EQ(scale.multiplier(), 2);
  scale.on_ack(0x00000010);
  scale.on_dsack(0x00000020);
  EXPECT_EQ(scale.multiplier(), 3);
}

TEST(ReorderWindowScale, FallsBackAfterSixteenRecoveriesWithoutADsack) {
  ReorderWindowScale scale;
  scale.on_dsack(100);
  scale.on_ack(100);
  scale.on_dsack(200);
  ASSERT_EQ(scale.multiplier(), 3);
  for (int i = 0; i < ReorderWindowScale::kPersistRecoveries - 1; ++i) scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 3);
  scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 1);
}

TEST(ReorderWindowScale, ADsackStartsTheSixteenAgain) {
  ReorderWindowScale scale;
  scale.on_dsack(100);
  for (int i = 0; i < 10; ++i) scale.on_recovery_end();
  scale.on_ack(100);
  scale.on_dsack(200);
  for (int i = 0; i < ReorderWindowScale::kPersistRecoveries - 1; ++i) scale.on_recovery_end();
  EXPECT_EQ(scale.multiplier(), 3);
}

TEST(ReorderWindowScale, IsBounded) {
  ReorderWindowScale scale;
  for (uint32_t round = 1; round <= 1000; ++round) {
    scale.on_dsack(round * 100);
    scale.on_ack(round * 100);
  }
  EXPECT_EQ(scale.multiplier(), ReorderWindowScale::kMaxMultiplier);
}

}  // namespace
}  // namespace tapstack::tcp
