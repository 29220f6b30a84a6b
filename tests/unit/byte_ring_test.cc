#include "stack/tcp/byte_ring.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace tapstack::tcp {
namespace {

std::vector<uint8_t> iota(size_t n, uint8_t first = 0) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<uint8_t> peek_all(const ByteRing& ring, size_t offset = 0) {
  std::vector<uint8_t> out(ring.size());
  out.resize(ring.peek(offset, out));
  return out;
}

TEST(ByteRing, HoldsNoStorageUntilWrittenAndGivesItBackWhenEmpty) {
  ByteRing ring(1 << 20);
  EXPECT_EQ(ring.capacity(), 0u);
  EXPECT_EQ(ring.push(iota(10)), 10u);
  EXPECT_EQ(ring.capacity(), 4096u);
  ring.consume(10);
  EXPECT_EQ(ring.capacity(), 0u);
  EXPECT_TRUE(ring.empty());
}

TEST(ByteRing, PushStopsAtTheLimit) {
  ByteRing ring(100);
  EXPECT_EQ(ring.push(iota(150)), 100u);
  EXPECT_EQ(ring.room(), 0u);
  EXPECT_EQ(ring.push(iota(1)), 0u);
  EXPECT_EQ(peek_all(ring), iota(100));
}

TEST(ByteRing, KeepsOrderAcrossTheWrapAndAcrossGrowth) {
  ByteRing ring(1 << 16);
  uint8_t next = 0;
  std::vector<uint8_t> expected;
  // Push and consume unevenly so that the head walks around the storage while it grows.
  for (size_t round = 1; round < 40; ++round) {
    auto chunk = iota(round * 97, next);
    next = static_cast<uint8_t>(next + chunk.size());
    ASSERT_EQ(ring.push(chunk), chunk.size());
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    size_t drop = round * 61;
    ring.consume(drop);
    expected.erase(expected.begin(), expected.begin() + static_cast<ptrdiff_t>(drop));
    ASSERT_EQ(peek_all(ring), expected) << "round " << round;
  }
}

TEST(ByteRing, PeekFromAnOffsetConsumesNothing) {
  ByteRing ring(1000);
  ring.push(iota(50));
  std::vector<uint8_t> out(10);
  EXPECT_EQ(ring.peek(45, out), 5u);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 5), iota(5, 45));
  EXPECT_EQ(ring.peek(50, out), 0u);
  EXPECT_EQ(ring.size(), 50u);
}

TEST(ByteRing, BytesWrittenBeyondTheEndJoinItWhenTheGapFills) {
  ByteRing ring(1000);
  auto data = iota(300);
  ring.push(std::span(data).first(100));
  ring.write_beyond(100, std::span(data).subspan(200));  // bytes 200..299, a gap of 100
  EXPECT_EQ(ring.size(), 100u);
  ring.consume(100);  // the bytes beyond keep their storage
  EXPECT_NE(ring.capacity(), 0u);
  ring.push(std::span(data).subspan(100, 100));  // fills the gap
  ring.extend(100);
  EXPECT_EQ(peek_all(ring), std::vector<uint8_t>(data.begin() + 100, data.end()));
}

TEST(ByteRing, GrowthKeepsBytesWrittenBeyondTheEnd) {
  ByteRing ring(1 << 16);
  auto data = iota(10000);
  ring.push(std::span(data).first(10));
  ring.write_beyond(10, std::span(data).subspan(20, 100));     // within the first 4 KiB
  ring.write_beyond(8000, std::span(data).subspan(8010, 10));  // grows the storage
  ring.push(std::span(data).subspan(10, 10));
  ring.extend(100);
  EXPECT_EQ(peek_all(ring), std::vector<uint8_t>(data.begin(), data.begin() + 120));
}

}  // namespace
}  // namespace tapstack::tcp
