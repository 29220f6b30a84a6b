// CaptureRing: records come out as they went in, in order, across the wrap; a full ring drops
// and counts instead of waiting.
#include "stack/capture/capture_ring.h"

#include <gtest/gtest.h>

#include <numeric>

namespace tapstack::capture {
namespace {

std::vector<uint8_t> bytes(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(CaptureRing, RecordsComeOutInOrderWithTheirFields) {
  CaptureRing ring(4096);
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.push(111, Direction::kReceived, bytes(60, 1)));
  EXPECT_TRUE(ring.push(222, Direction::kSent, bytes(74, 9)));
  std::vector<Frame> out;
  EXPECT_EQ(ring.drain(out, 1 << 20), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].timestamp_ns, 111);
  EXPECT_EQ(out[0].direction, Direction::kReceived);
  EXPECT_EQ(out[0].bytes, bytes(60, 1));
  EXPECT_EQ(out[1].timestamp_ns, 222);
  EXPECT_EQ(out[1].direction, Direction::kSent);
  EXPECT_EQ(out[1].bytes, bytes(74, 9));
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.pushed(), 2u);
  EXPECT_EQ(ring.lost(), 0u);
}

TEST(CaptureRing, AFullRingDropsAndCountsAndTakesAgainOnceRead) {
  CaptureRing ring(4096);
  const size_t record = CaptureRing::kRecordOverhead + 1000;
  const size_t fit = 4096 / record;  // 3
  for (size_t i = 0; i < fit; ++i) EXPECT_TRUE(ring.push(1, Direction::kSent, bytes(1000, 0)));
  EXPECT_FALSE(ring.push(2, Direction::kSent, bytes(1000, 0)));
  EXPECT_FALSE(ring.push(3, Direction::kSent, bytes(1000, 0)));
  EXPECT_EQ(ring.lost(), 2u);
  EXPECT_EQ(ring.pushed(), fit);
  // A small frame still fits in what is left.
  EXPECT_TRUE(ring.push(4, Direction::kSent, bytes(10, 0)));

  std::vector<Frame> out;
  EXPECT_EQ(ring.drain(out, 1 << 20), fit + 1);
  EXPECT_TRUE(ring.push(5, Direction::kSent, bytes(1000, 0)));
  EXPECT_EQ(ring.lost(), 2u);
}

TEST(CaptureRing, RecordsSurviveTheWrapByteForByte) {
  CaptureRing ring(4096);
  std::vector<Frame> out;
  // 700-byte records against a 4096-byte ring: every few records straddle the end.
  for (uint8_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(ring.push(i, Direction::kReceived, bytes(700, i)));
    ASSERT_TRUE(ring.push(i, Direction::kSent, bytes(33, i)));
    out.clear();
    ASSERT_EQ(ring.drain(out, 1 << 20), 2u);
    EXPECT_EQ(out[0].bytes, bytes(700, i));
    EXPECT_EQ(out[1].bytes, bytes(33, i));
    EXPECT_EQ(out[1].timestamp_ns, i);
  }
  EXPECT_EQ(ring.lost(), 0u);
}

TEST(CaptureRing, DrainStopsAtTheByteBudgetButTakesAtLeastOne) {
  CaptureRing ring(8192);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.push(i, Direction::kSent, bytes(1000, 0)));
  std::vector<Frame> out;
  EXPECT_EQ(ring.drain(out, 10), 1u);
  EXPECT_EQ(ring.drain(out, 2000), 2u);
  EXPECT_EQ(ring.drain(out, 2000), 1u);
  EXPECT_EQ(ring.drain(out, 2000), 0u);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].timestamp_ns, 3);
}

}  // namespace
}  // namespace tapstack::capture
