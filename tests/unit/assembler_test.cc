// The receive side's out-of-order bookkeeping: merging, the bound on ranges, in-order arrival
// jumping over held data, and the SACK / D-SACK blocks of the next ACK (RFC 2018, RFC 2883).
#include "stack/tcp/assembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <vector>

#include "stack/tcp/seqnum.h"

namespace tapstack::header {
void PrintTo(const SackBlock& b, std::ostream* os) {
  *os << "[" << b.start << ", " << b.end << ")";
}
}  // namespace tapstack::header

namespace tapstack::tcp {
namespace {

using Added = Assembler::Added;
using Blocks = std::vector<SackBlock>;

// All blocks the next ACK would carry with room for `room` of them.
Blocks Sack(Assembler& a, uint32_t rcv_nxt, size_t room = Assembler::kMaxRanges) {
  std::vector<SackBlock> out(room);
  out.resize(a.sack_blocks(rcv_nxt, out));
  return out;
}

TEST(Assembler, StartsEmpty) {
  Assembler a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.range_count(), 0u);
  EXPECT_EQ(a.held_bytes(), 0u);
  EXPECT_EQ(a.advance(100), 0u);
  EXPECT_EQ(Sack(a, 1000), Blocks{});
}

TEST(Assembler, DisjointRangesStaySeparateAndAdjacentOnesMerge) {
  Assembler a;
  EXPECT_EQ(a.add(10, 5), Added::kStored);
  EXPECT_EQ(a.add(30, 5), Added::kStored);
  EXPECT_EQ(a.range_count(), 2u);
  EXPECT_EQ(a.held_bytes(), 10u);
  // [15, 20) touches [10, 15) on the left: one range, not two.
  EXPECT_EQ(a.add(15, 5), Added::kStored);
  EXPECT_EQ(a.range_count(), 2u);
  // [25, 30) touches [30, 35) on the right.
  EXPECT_EQ(a.add(25, 5), Added::kStored);
  EXPECT_EQ(a.range_count(), 2u);
  // [20, 25) closes the gap between the two.
  EXPECT_EQ(a.add(20, 5), Added::kStored);
  EXPECT_EQ(a.range_count(), 1u);
  EXPECT_EQ(a.held_bytes(), 25u);
  EXPECT_EQ(Sack(a, 0), (Blocks{{10, 35}}));
}

TEST(Assembler, OverlapsMergeWithoutCountingBytesTwice) {
  Assembler a;
  a.add(10, 10);  // [10, 20)
  a.add(5, 10);   // [5, 15) overlaps on the left
  a.add(18, 7);   // [18, 25) overlaps on the right
  EXPECT_EQ(a.held_bytes(), 20u);
  EXPECT_EQ(Sack(a, 0), (Blocks{{5, 25}}));

  // One segment spanning several ranges and the gaps between them swallows them all.
  Assembler b;
  for (uint32_t start : {10, 20, 30, 40}) b.add(start, 2);
  EXPECT_EQ(b.range_count(), 4u);
  EXPECT_EQ(b.add(11, 30), Added::kStored);  // [11, 41)
  EXPECT_EQ(b.range_count(), 1u);
  EXPECT_EQ(b.held_bytes(), 32u);
  EXPECT_EQ(Sack(b, 0), (Blocks{{10, 42}}));
  // A superset of everything held, too.
  EXPECT_EQ(b.add(0, 100), Added::kStored);
  EXPECT_EQ(Sack(b, 0), (Blocks{{0, 100}}));
}

TEST(Assembler, DuplicateOnlyWhenEveryByteWasHeld) {
  Assembler a;
  a.add(100, 50);  // [100, 150)
  EXPECT_EQ(a.add(100, 50), Added::kDuplicate);
  EXPECT_EQ(a.add(110, 10), Added::kDuplicate);
  EXPECT_EQ(a.add(149, 1), Added::kDuplicate);
  EXPECT_EQ(a.held_bytes(), 50u);
  // One new byte on either side is new data.
  EXPECT_EQ(a.add(99, 2), Added::kStored);
  EXPECT_EQ(a.add(149, 2), Added::kStored);
  EXPECT_EQ(a.held_bytes(), 52u);
  // Touching without overlapping is new data, not a duplicate.
  EXPECT_EQ(a.add(151, 1), Added::kStored);
  // Covering two ranges and the gap between them is new data.
  a.add(160, 10);
  EXPECT_EQ(a.add(100, 70), Added::kStored);
  EXPECT_EQ(a.range_count(), 1u);
  // Nothing to store is neither.
  EXPECT_EQ(a.add(500, 0), Added::kStored);
  EXPECT_EQ(a.range_count(), 1u);
}

TEST(Assembler, RefusesARangeBeyondTheBoundAndRecordsNothing) {
  Assembler a;
  // An attacker's 1-byte segments at every other byte across the window.
  size_t stored = 0, refused = 0;
  for (uint32_t offset = 1; offset < 65535; offset += 2) {
    const Added r = a.add(offset, 1);
    ASSERT_NE(r, Added::kDuplicate);
    (r == Added::kStored ? stored : refused)++;
    ASSERT_LE(a.range_count(), Assembler::kMaxRanges);
  }
  EXPECT_EQ(stored, Assembler::kMaxRanges);
  EXPECT_GT(refused, 30000u);
  EXPECT_EQ(a.held_bytes(), Assembler::kMaxRanges);
  // The ranges are the first 32: [1,2), [3,4), ... [63,64).
  const Blocks before = Sack(a, 0);
  ASSERT_EQ(before.size(), Assembler::kMaxRanges);
  EXPECT_EQ(before.back(), (SackBlock{1, 2}));  // the oldest last
  EXPECT_EQ(before.front(), (SackBlock{63, 64}));

  // Growing a held range needs no new one and is taken, as is a duplicate.
  EXPECT_EQ(a.add(64, 10), Added::kStored);
  EXPECT_EQ(a.add(3, 1), Added::kDuplicate);
  EXPECT_EQ(a.range_count(), Assembler::kMaxRanges);
  // Filling a gap frees a slot, which a disjoint range may then take.
  EXPECT_EQ(a.add(1000, 1), Added::kRefused);
  EXPECT_EQ(a.add(2, 1), Added::kStored);  // joins [1,2) and [3,4)
  EXPECT_EQ(a.range_count(), Assembler::kMaxRanges - 1);
  EXPECT_EQ(a.add(1000, 1), Added::kStored);
  EXPECT_EQ(a.add(2000, 1), Added::kRefused);
  EXPECT_EQ(a.held_bytes(), Assembler::kMaxRanges + 10 + 1 + 1);
}

TEST(Assembler, AdvanceReturnsTheHeldBytesNowContiguous) {
  Assembler a;
  a.add(10, 10);  // [10, 20)
  a.add(30, 5);   // [30, 35)
  // 5 in-order bytes leave a gap of 5 before the first range.
  EXPECT_EQ(a.advance(5), 0u);
  EXPECT_EQ(Sack(a, 5), (Blocks{{30, 35}, {10, 20}}));
  // Filling the gap exactly makes the whole first range in-order.
  EXPECT_EQ(a.advance(5), 10u);
  EXPECT_EQ(a.range_count(), 1u);
  // Offsets now count from 20: the other range starts 10 further on.
  EXPECT_EQ(Sack(a, 20), (Blocks{{30, 35}}));
  EXPECT_EQ(a.advance(10), 5u);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, AdvanceOverlappingHeldData) {
  // A retransmission that covers the gap and part (or all) of what was held.
  Assembler a;
  a.add(10, 10);                 // [10, 20)
  EXPECT_EQ(a.advance(15), 5u);  // [0, 15) new; [15, 20) was held
  EXPECT_TRUE(a.empty());

  Assembler b;
  for (uint32_t start : {2, 6, 20}) b.add(start, 2);  // [2,4) [6,8) [20,22)
  EXPECT_EQ(b.advance(10), 0u);                       // covers the first two entirely
  EXPECT_EQ(b.range_count(), 1u);
  EXPECT_EQ(b.held_bytes(), 2u);
  EXPECT_EQ(b.advance(10), 2u);  // lands exactly on [20, 22)
  EXPECT_TRUE(b.empty());

  // An in-order segment ending exactly where a range ends.
  Assembler c;
  c.add(5, 5);
  EXPECT_EQ(c.advance(10), 0u);
  EXPECT_TRUE(c.empty());
  // Zero in-order bytes with a range recorded at offset 0 hands that range over.
  c.add(0, 7);
  EXPECT_EQ(c.advance(0), 7u);
  EXPECT_TRUE(c.empty());
}

TEST(Assembler, SequenceNumbersWrapAround) {
  Assembler a;
  uint32_t rcv_nxt = 0xffffff00;
  a.add(0xf0, 0x20);   // 0xfffffff0 .. 0x10, across the wrap
  a.add(0x200, 0x10);  // entirely past the wrap
  const Blocks blocks = Sack(a, rcv_nxt);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0], (SackBlock{0x100, 0x110}));
  EXPECT_EQ(blocks[1], (SackBlock{0xfffffff0, 0x10}));
  EXPECT_TRUE(seq_lt(blocks[1].start, blocks[1].end));
  EXPECT_TRUE(seq_lt(rcv_nxt, blocks[1].start));

  // The in-order end crosses the wrap as the gap fills.
  rcv_nxt += 0xf0 + a.advance(0xf0);
  EXPECT_EQ(rcv_nxt, 0x10u);
  EXPECT_EQ(Sack(a, rcv_nxt), (Blocks{{0x100, 0x110}}));

  // A duplicate below RCV.NXT across the wrap is reported as given.
  a.note_duplicate(0xfffffff8, 0x8);
  EXPECT_EQ(Sack(a, rcv_nxt), (Blocks{{0xfffffff8, 0x8}, {0x100, 0x110}}));
}

// RFC 2018 §4's receiver, fed whole segments of 500 bytes as in its examples.
struct Receiver {
  uint32_t rcv_nxt = 5000;
  Assembler assembler;

  // Returns the ACK (cumulative ACK, SACK blocks) the segment at seq triggers, with room for
  // three blocks as next to a timestamp.
  std::pair<uint32_t, Blocks> receive(uint32_t seq) {
    const uint32_t length = 500;
    if (seq == rcv_nxt) {
      rcv_nxt += length + assembler.advance(length);
    } else {
      EXPECT_NE(assembler.add(seq - rcv_nxt, length), Added::kRefused);
    }
    return {rcv_nxt, Sack(assembler, rcv_nxt, 3)};
  }
};

TEST(AssemblerSack, Rfc2018ExampleFirstSegmentLost) {
  // RFC 2018 §5, case 2: the first of 8 segments is dropped, the other 7 arrive.
  Receiver r;
  for (uint32_t seq = 5500; seq <= 8500; seq += 500) {
    EXPECT_EQ(r.receive(seq), std::make_pair(5000u, Blocks{{5500, seq + 500}})) << seq;
  }
}

TEST(AssemblerSack, Rfc2018ExampleEverySecondSegmentLost) {
  // RFC 2018 §5, case 3: the 2nd, 4th, 6th and 8th of 8 segments are dropped.
  Receiver r;
  EXPECT_EQ(r.receive(5000), std::make_pair(5500u, Blocks{}));
  EXPECT_EQ(r.receive(6000), std::make_pair(5500u, Blocks{{6000, 6500}}));
  EXPECT_EQ(r.receive(7000), std::make_pair(5500u, Blocks{{7000, 7500}, {6000, 6500}}));
  EXPECT_EQ(r.receive(8000),
            std::make_pair(5500u, Blocks{{8000, 8500}, {7000, 7500}, {6000, 6500}}));
  // "Suppose at this point, the 4th packet is received out of order."
  EXPECT_EQ(r.receive(6500), std::make_pair(5500u, Blocks{{6000, 7500}, {8000, 8500}}));
  // "Suppose at this point, the 2nd segment is received."
  EXPECT_EQ(r.receive(5500), std::make_pair(7500u, Blocks{{8000, 8500}}));
}

TEST(AssemblerSack, MostRecentlyChangedFirstAndOldestDroppedWhenFull) {
  Assembler a;
  for (uint32_t start : {100, 300, 500, 700, 900}) a.add(start, 10);
  // Room for 3: the three newest, newest first.
  EXPECT_EQ(Sack(a, 0, 3), (Blocks{{900, 910}, {700, 710}, {500, 510}}));
  // A segment extending an old range makes it the first block.
  a.add(110, 10);
  EXPECT_EQ(Sack(a, 0, 4), (Blocks{{100, 120}, {900, 910}, {700, 710}, {500, 510}}));
  // So does a duplicate inside one (RFC 2883 §4: the block containing it follows the D-SACK).
  EXPECT_EQ(a.add(302, 4), Added::kDuplicate);
  a.note_duplicate(302, 306);
  EXPECT_EQ(Sack(a, 0, 3), (Blocks{{302, 306}, {300, 310}, {100, 120}}));
  // A refused segment changes no order.
  Assembler b;
  for (uint32_t i = 0; i < Assembler::kMaxRanges; ++i) b.add(10 * i + 5, 1);
  EXPECT_EQ(b.add(1000, 1), Added::kRefused);
  EXPECT_EQ(Sack(b, 0, 1), (Blocks{{315, 316}}));
  EXPECT_EQ(Sack(b, 0, 0), Blocks{});
}

TEST(AssemblerSack, DuplicateReportedOnceInTheFirstBlock) {
  Assembler a;
  a.add(1000, 100);
  // RFC 2883 §4.1.1: a retransmission of data already acknowledged (below RCV.NXT).
  a.note_duplicate(3000, 3500);
  EXPECT_EQ(Sack(a, 4000, 3), (Blocks{{3000, 3500}, {5000, 5100}}));
  EXPECT_EQ(Sack(a, 4000, 3), (Blocks{{5000, 5100}}));

  // Without any out-of-order data, the D-SACK block stands alone.
  Assembler b;
  b.note_duplicate(10, 20);
  EXPECT_EQ(Sack(b, 100, 4), (Blocks{{10, 20}}));
  EXPECT_EQ(Sack(b, 100, 4), Blocks{});

  // The latest duplicate replaces an unreported one.
  b.note_duplicate(10, 20);
  b.note_duplicate(30, 40);
  EXPECT_EQ(Sack(b, 100, 4), (Blocks{{30, 40}}));

  // The D-SACK takes one of the slots: with 3, two ranges follow it.
  Assembler c;
  for (uint32_t start : {100, 200, 300}) c.add(start, 10);
  c.note_duplicate(0, 10);
  EXPECT_EQ(Sack(c, 1000, 3), (Blocks{{0, 10}, {1300, 1310}, {1200, 1210}}));
  EXPECT_EQ(Sack(c, 1000, 3), (Blocks{{1300, 1310}, {1200, 1210}, {1100, 1110}}));

  // With no room (SACK not negotiated) the duplicate is dropped, not kept for later.
  c.note_duplicate(0, 10);
  EXPECT_EQ(Sack(c, 1000, 0), Blocks{});
  EXPECT_EQ(Sack(c, 1000, 1), (Blocks{{1300, 1310}}));
}

TEST(Assembler, ClearForgetsRangesAndDuplicate) {
  Assembler a;
  a.add(10, 10);
  a.note_duplicate(1, 2);
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.held_bytes(), 0u);
  EXPECT_EQ(Sack(a, 0), Blocks{});
  EXPECT_EQ(a.advance(10), 0u);
  EXPECT_EQ(a.add(10, 10), Added::kStored);
  EXPECT_EQ(a.advance(10), 10u);
}

// Random segments against a byte map: the same held bytes, the same ranges, the same answers.
TEST(Assembler, MatchesAByteMapOnRandomSegments) {
  constexpr uint32_t kWindow = 4000;
  std::mt19937 rng(0x5ac);
  int refused = 0, duplicates = 0, jumps = 0;
  for (int round = 0; round < 50; ++round) {
    Assembler a;
    std::vector<bool> held(kWindow);  // by offset from the in-order end
    uint32_t rcv_nxt = static_cast<uint32_t>(rng());
    for (int step = 0; step < 400; ++step) {
      // Runs of held bytes in the model, as SACK blocks.
      auto runs = [&] {
        Blocks out;
        for (uint32_t i = 0; i < kWindow; ++i) {
          if (!held[i]) continue;
          uint32_t j = i;
          while (j < kWindow && held[j]) ++j;
          out.push_back({rcv_nxt + i, rcv_nxt + j});
          i = j;
        }
        return out;
      };
      if (rng() % 8 == 0) {
        const uint32_t n = rng() % 100;
        uint32_t contiguous = 0;
        while (n + contiguous < kWindow && held[n + contiguous]) ++contiguous;
        held.erase(held.begin(), held.begin() + n + contiguous);
        held.resize(kWindow);
        ASSERT_EQ(a.advance(n), contiguous);
        jumps += contiguous > 0;
        rcv_nxt += n + contiguous;
      } else {
        const uint32_t offset = 1 + rng() % (kWindow - 200);
        // Mostly short segments, so that the holes outnumber kMaxRanges now and then.
        const uint32_t length = 1 + rng() % (rng() % 4 == 0 ? 150 : 8);
        bool all_held = true, adds_run = true;
        for (uint32_t i = offset; i < offset + length; ++i) all_held &= held[i];
        // A new run only when nothing from offset - 1 to offset + length is held.
        for (uint32_t i = offset - 1; i <= offset + length; ++i) adds_run &= !held[i];
        const size_t before = runs().size();
        const Added r = a.add(offset, length);
        if (adds_run && before == Assembler::kMaxRanges) {
          ASSERT_EQ(r, Added::kRefused);
          ++refused;
        } else {
          ASSERT_EQ(r, all_held ? Added::kDuplicate : Added::kStored);
          duplicates += all_held;
          for (uint32_t i = offset; i < offset + length; ++i) held[i] = true;
        }
      }
      Blocks model = runs();
      Blocks got = Sack(a, rcv_nxt);
      auto by_start = [&](const SackBlock& x, const SackBlock& y) {
        return x.start - rcv_nxt < y.start - rcv_nxt;
      };
      std::sort(got.begin(), got.end(), by_start);
      ASSERT_EQ(got, model) << "round " << round << " step " << step;
      ASSERT_EQ(a.range_count(), model.size());
      uint32_t bytes = 0;
      for (bool b : held) bytes += b;
      ASSERT_EQ(a.held_bytes(), bytes);
    }
  }
  // The generator reached each outcome.
  EXPECT_GT(refused, 1000);
  EXPECT_GT(duplicates, 1000);
  EXPECT_GT(jumps, 200);
}

}  // namespace
}  // namespace tapstack::tcp
