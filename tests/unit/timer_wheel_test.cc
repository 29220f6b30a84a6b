// The timer wheel: fires at or after the deadline to the millisecond, never before; in
// deadline order; cancel and destruction unlink; fire callbacks may re-arm, cancel or destroy
// nodes; gaps longer than a turn of the wheel neither fire early nor lose timers.
#include "stack/timer_wheel.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace tapstack {
namespace {

constexpr Time kStart = seconds(1000);

struct Probe : TimerNode {
  explicit Probe(int probe_id) : id(probe_id) {}
  int id;
};

class TimerWheelTest : public ::testing::Test {
 protected:
  explicit TimerWheelTest(size_t slots = 4096) : wheel_(kStart, slots) {}

  // Advances to `t`, recording which probes fired; `on_fire` runs for each after recording.
  void advance_to(Time t) {
    wheel_.advance(t, [&](TimerNode& node) {
      auto& probe = static_cast<Probe&>(node);
      fired_.push_back(probe.id);
      if (on_fire_) on_fire_(probe);
    });
  }
  std::vector<int> take_fired() { return std::exchange(fired_, {}); }

  TimerWheel wheel_;
  std::vector<int> fired_;
  std::function<void(Probe&)> on_fire_;
};

TEST_F(TimerWheelTest, FiresAtTheDeadlineToTheMillisecondNotBefore) {
  Probe p(1);
  wheel_.arm(p, kStart + milliseconds(5));
  EXPECT_TRUE(p.armed());
  EXPECT_EQ(p.deadline(), kStart + milliseconds(5));
  advance_to(kStart + milliseconds(4));
  advance_to(kStart + milliseconds(5) - std::chrono::nanoseconds(1));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(5));
  EXPECT_EQ(take_fired(), std::vector{1});
  EXPECT_FALSE(p.armed());
  advance_to(kStart + seconds(10));
  EXPECT_TRUE(take_fired().empty());  // once only
}

TEST_F(TimerWheelTest, DeadlineBetweenTicksFiresAtTheNextTick) {
  Probe p(1);
  wheel_.arm(p, kStart + std::chrono::microseconds(5300));
  advance_to(kStart + std::chrono::microseconds(5900));
  EXPECT_TRUE(take_fired().empty());  // never before its deadline
  advance_to(kStart + milliseconds(6));
  EXPECT_EQ(take_fired(), std::vector{1});
}

TEST_F(TimerWheelTest, PastDeadlineFiresAtTheNextAdvanceNotInsideArm) {
  Probe p(1);
  wheel_.arm(p, kStart - seconds(5));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart);  // no tick has passed yet
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(1));
  EXPECT_EQ(take_fired(), std::vector{1});
}

TEST_F(TimerWheelTest, FiresInDeadlineOrderAndArmingOrderWithinATick) {
  Probe a(1), b(2), c(3), d(4);
  wheel_.arm(c, kStart + milliseconds(30));
  wheel_.arm(a, kStart + milliseconds(10));
  wheel_.arm(b, kStart + milliseconds(20));
  wheel_.arm(d, kStart + milliseconds(10));
  advance_to(kStart + milliseconds(100));
  EXPECT_EQ(take_fired(), (std::vector{1, 4, 2, 3}));
}

TEST_F(TimerWheelTest, CancelledNodeDoesNotFire) {
  Probe a(1), b(2);
  wheel_.arm(a, kStart + milliseconds(5));
  wheel_.arm(b, kStart + milliseconds(5));
  wheel_.cancel(a);
  EXPECT_FALSE(a.armed());
  wheel_.cancel(a);  // cancelling twice is harmless
  advance_to(kStart + milliseconds(10));
  EXPECT_EQ(take_fired(), std::vector{2});
}

TEST_F(TimerWheelTest, ReArmingMovesTheDeadline) {
  Probe p(1);
  wheel_.arm(p, kStart + milliseconds(5));
  wheel_.arm(p, kStart + milliseconds(50));
  advance_to(kStart + milliseconds(49));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(50));
  EXPECT_EQ(take_fired(), std::vector{1});
}

TEST_F(TimerWheelTest, ReArmFromInsideFireRunsAgainWithinTheSameAdvance) {
  Probe p(1);
  std::vector<Time> deadlines;
  on_fire_ = [&](Probe& probe) {
    deadlines.push_back(probe.deadline());
    if (deadlines.size() < 3) wheel_.arm(probe, probe.deadline() + milliseconds(3));
  };
  wheel_.arm(p, kStart + milliseconds(3));
  advance_to(kStart + milliseconds(100));
  EXPECT_EQ(deadlines, (std::vector<Time>{kStart + milliseconds(3), kStart + milliseconds(6),
                                          kStart + milliseconds(9)}));
}

TEST_F(TimerWheelTest, ReArmForTheCurrentTickFromInsideFireWaitsForTheNextTick) {
  Probe p(1);
  int runs = 0;
  on_fire_ = [&](Probe& probe) {
    if (++runs < 5) wheel_.arm(probe, probe.deadline());  // due already
  };
  wheel_.arm(p, kStart + milliseconds(5));
  advance_to(kStart + milliseconds(5));
  EXPECT_EQ(runs, 1);  // no endless loop inside one tick
  advance_to(kStart + milliseconds(6));
  EXPECT_EQ(runs, 2);
}

TEST_F(TimerWheelTest, FireMayCancelOrDestroyAnotherDueNode) {
  Probe a(1), b(2);
  auto c = std::make_unique<Probe>(3);
  wheel_.arm(a, kStart + milliseconds(5));
  wheel_.arm(b, kStart + milliseconds(5));
  wheel_.arm(*c, kStart + milliseconds(5));
  on_fire_ = [&](Probe& probe) {
    if (probe.id != 1) return;
    wheel_.cancel(b);
    c.reset();  // its destructor unlinks it from the batch being fired
  };
  advance_to(kStart + milliseconds(5));
  EXPECT_EQ(take_fired(), std::vector{1});
}

TEST_F(TimerWheelTest, DestroyedNodeIsUnlinked) {
  {
    Probe p(1);
    wheel_.arm(p, kStart + milliseconds(5));
  }
  EXPECT_EQ(wheel_.next_deadline(), std::nullopt);
  advance_to(kStart + milliseconds(10));
  EXPECT_TRUE(take_fired().empty());
}

TEST_F(TimerWheelTest, NextDeadlineIsNeverLaterThanTheEarliestTimer) {
  EXPECT_EQ(wheel_.next_deadline(), std::nullopt);
  Probe a(1), b(2);
  wheel_.arm(a, kStart + milliseconds(40));
  wheel_.arm(b, kStart + milliseconds(15));
  ASSERT_TRUE(wheel_.next_deadline());
  EXPECT_LE(*wheel_.next_deadline(), kStart + milliseconds(15));
  EXPECT_GT(*wheel_.next_deadline(), kStart);
  advance_to(kStart + milliseconds(15));
  EXPECT_LE(*wheel_.next_deadline(), kStart + milliseconds(40));
  EXPECT_GT(*wheel_.next_deadline(), kStart + milliseconds(15));
  advance_to(kStart + milliseconds(40));
  EXPECT_EQ(wheel_.next_deadline(), std::nullopt);
}

TEST_F(TimerWheelTest, TimerALaterRoundAwayDoesNotFireWhenItsSlotComesFirst) {
  Probe p(1);
  wheel_.arm(p, kStart + milliseconds(5000));      // beyond one turn of 4096 ms
  advance_to(kStart + milliseconds(5000 - 4096));  // the same slot, one round early
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(4999));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(5000));
  EXPECT_EQ(take_fired(), std::vector{1});
}

class SmallTimerWheelTest : public TimerWheelTest {
 protected:
  SmallTimerWheelTest() : TimerWheelTest(8) {}
};

TEST_F(SmallTimerWheelTest, GapsLongerThanTheWheelFireEverythingInOrder) {
  Probe a(1), b(2), c(3), d(4);
  wheel_.arm(d, kStart + seconds(3600));
  wheel_.arm(c, kStart + milliseconds(1000));
  wheel_.arm(a, kStart + milliseconds(3));
  wheel_.arm(b, kStart + milliseconds(20));
  advance_to(kStart + milliseconds(2));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + milliseconds(999));  // many turns of 8 slots at once
  EXPECT_EQ(take_fired(), (std::vector{1, 2}));
  advance_to(kStart + seconds(3599));
  EXPECT_EQ(take_fired(), std::vector{3});
  advance_to(kStart + seconds(3600) - milliseconds(1));
  EXPECT_TRUE(take_fired().empty());
  advance_to(kStart + seconds(3600));
  EXPECT_EQ(take_fired(), std::vector{4});
}

TEST_F(SmallTimerWheelTest, ReArmDuringALongGapIsHonoured) {
  Probe p(1);
  std::vector<Time> deadlines;
  on_fire_ = [&](Probe& probe) {
    deadlines.push_back(probe.deadline());
    if (deadlines.size() < 3) wheel_.arm(probe, probe.deadline() + milliseconds(100));
  };
  wheel_.arm(p, kStart + milliseconds(50));
  advance_to(kStart + seconds(60));
  EXPECT_EQ(deadlines, (std::vector<Time>{kStart + milliseconds(50), kStart + milliseconds(150),
                                          kStart + milliseconds(250)}));
}

TEST_F(TimerWheelTest, CountsArmedNodesAndFindsTheNextDeadlineAfterCancels) {
  EXPECT_EQ(wheel_.next_deadline(), std::nullopt);
  {
    Probe early(1);
    Probe late(2);
    wheel_.arm(early, kStart + milliseconds(5));
    wheel_.arm(late, kStart + milliseconds(3000));
    EXPECT_EQ(wheel_.armed(), 2u);
    EXPECT_EQ(wheel_.next_deadline(), kStart + milliseconds(5));
    wheel_.cancel(early);
    EXPECT_EQ(wheel_.armed(), 1u);
    EXPECT_EQ(wheel_.next_deadline(), kStart + milliseconds(3000));
    // A node armed before the last answer is still found.
    Probe earlier(3);
    wheel_.arm(earlier, kStart + milliseconds(2));
    EXPECT_EQ(wheel_.next_deadline(), kStart + milliseconds(2));
    EXPECT_EQ(wheel_.armed(), 2u);
  }  // destroyed nodes disarm themselves
  EXPECT_EQ(wheel_.armed(), 0u);
  EXPECT_EQ(wheel_.next_deadline(), std::nullopt);
}

}  // namespace
}  // namespace tapstack
