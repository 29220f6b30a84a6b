// CUBIC against RFC 9438's formulas: the window after a loss follows
// W_cubic(t) = C * (t - K)^3 + W_max with K = cbrt((W_max - cwnd_epoch) / C), concave below
// W_max and convex beyond; the Reno-friendly W_est takes over where it is larger; fast
// convergence lowers W_max after a loss below the previous one; a timeout restarts the curve.
#include "stack/tcp/cubic.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tapstack::tcp {
namespace {

constexpr uint32_t kMss = 1000;

double w_cubic(double t, double k, double w_max) {
  return Cubic::kC * std::pow(t - k, 3) + w_max;
}

class CubicTest : public ::testing::Test {
 protected:
  double segments() const { return static_cast<double>(cc_.cwnd()) / kMss; }

  // Slow start from the initial window to exactly `target` segments, all of them in use.
  void grow_to(uint32_t target) {
    while (cc_.cwnd() < target * kMss) cc_.on_ack(kMss, now_, rtt_, cc_.cwnd());
    ASSERT_EQ(cc_.cwnd(), target * kMss);
  }
  // A loss with the whole window in flight, recovered at once (SACK style: cwnd = ssthresh).
  void lose() {
    cc_.enter_recovery(now_, cc_.cwnd(), RecoveryStyle::kSack);
    cc_.exit_recovery(cc_.ssthresh());
  }
  // ACK clocking for `span`: per RTT one ACK per segment of the window, evenly spaced, each
  // with the RTT sample and the window full (or `in_flight` when given: application-limited).
  void run_for(Duration span, uint32_t in_flight = 0) {
    const Time end = now_ + span;
    while (now_ < end) {
      const uint32_t acks = std::max<uint32_t>(cc_.cwnd() / kMss, 1);
      for (uint32_t i = 0; i < acks && now_ < end; ++i) {
        now_ += rtt_ / acks;
        cc_.on_ack(kMss, now_, rtt_, in_flight ? in_flight : cc_.cwnd());
      }
    }
  }

  Cubic cc_{kMss};
  Time now_ = seconds(100);
  Duration rtt_ = milliseconds(200);
};

TEST_F(CubicTest, LossSetsWmaxAndReducesByBeta) {
  grow_to(100);
  lose();
  EXPECT_DOUBLE_EQ(cc_.w_max_segments(), 100);
  EXPECT_EQ(cc_.ssthresh(), 70 * kMss);
  EXPECT_EQ(cc_.cwnd(), 70 * kMss);
}

TEST_F(CubicTest, WindowFollowsTheCubicCurveThroughBothRegions) {
  grow_to(100);
  lose();
  const Time epoch = now_;
  run_for(rtt_);
  const double k = std::cbrt((100 - 70) / Cubic::kC);  // 4.217 s
  EXPECT_NEAR(cc_.k_seconds(), k, 1e-9);

  double previous = segments();
  double previous_step = 1e9;
  for (int second = 1; second <= 8; ++second) {
    run_for(epoch + seconds(second) - now_);
    const double expected = w_cubic(second, k, 100);
    EXPECT_NEAR(segments(), expected, 0.02 * expected) << "t = " << second << " s";
    EXPECT_GT(cc_.w_cubic_bytes(seconds(second)), cc_.w_est_bytes()) << "not Reno-friendly";
    const double step = segments() - previous;
    if (second <= 4) {
      EXPECT_LT(segments(), 100);  // concave: below W_max, growth slowing
      EXPECT_LT(step, previous_step) << "t = " << second << " s";
    } else if (second >= 6) {
      EXPECT_GT(segments(), 100);  // convex: beyond W_max, growth speeding up
      EXPECT_GT(step, previous_step) << "t = " << second << " s";
    }
    previous = segments();
    previous_step = step;
  }
}

TEST_F(CubicTest, PlateausAtWmaxAroundK) {
  grow_to(100);
  lose();
  const Time epoch = now_;
  const double k = std::cbrt(30 / Cubic::kC);
  run_for(epoch + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(k)) - now_);
  EXPECT_NEAR(segments(), 100, 1.0);
}

TEST_F(CubicTest, RenoFriendlyRegionWhereRenoWouldBeFaster) {
  // A small window and a short RTT: Reno's linear growth outpaces the cubic curve.
  rtt_ = milliseconds(10);
  lose();  // at the initial 10 segments: W_max 10, cwnd 7, K = cbrt(3 / 0.4) = 1.96 s
  const Time epoch = now_;
  run_for(seconds(1));
  const double cubic_now = cc_.w_cubic_bytes(now_ - epoch) / kMss;
  EXPECT_NEAR(cubic_now, w_cubic(1, std::cbrt(3 / Cubic::kC), 10), 0.01);
  // W_est: 7 + 0.529 per RTT up to the prior window of 10 (about 6 RTTs), then 1 per RTT
  // (a little less with ACK clocking: one ACK per whole segment of the window).
  const double rtts = 100;
  const double to_prior = 3 / Cubic::kRenoAlpha;
  const double w_est = 10 + (rtts - to_prior);
  EXPECT_NEAR(cc_.w_est_bytes() / kMss, w_est, 0.03 * w_est);
  EXPECT_NEAR(segments(), cc_.w_est_bytes() / kMss, 1);
  EXPECT_GT(segments(), 5 * cubic_now);
}

TEST_F(CubicTest, FastConvergenceLowersWmaxAfterALossBelowIt) {
  grow_to(100);
  lose();  // W_max 100, cwnd 70
  lose();  // at 70 < 100: W_max = 70 * (1 + 0.7) / 2 = 59.5, cwnd 49
  EXPECT_DOUBLE_EQ(cc_.w_max_segments(), 59.5);
  EXPECT_EQ(cc_.cwnd(), 49 * kMss);
  run_for(rtt_);
  EXPECT_NEAR(cc_.k_seconds(), std::cbrt((59.5 - 49) / Cubic::kC), 1e-9);
}

TEST_F(CubicTest, LossAboveWmaxSetsWmaxToTheWindow) {
  grow_to(20);
  lose();  // W_max 20, cwnd 14
  run_for(seconds(5));
  const double at_loss = segments();
  ASSERT_GT(at_loss, 20);
  lose();
  EXPECT_DOUBLE_EQ(cc_.w_max_segments(), at_loss);
}

TEST_F(CubicTest, TimeoutRestartsFromOneSegmentWithKZero) {
  grow_to(100);
  cc_.on_rto(now_, 100 * kMss, false);
  EXPECT_EQ(cc_.cwnd(), kMss);
  EXPECT_EQ(cc_.ssthresh(), 70 * kMss);
  EXPECT_FALSE(cc_.in_recovery());
  while (cc_.in_slow_start()) cc_.on_ack(kMss, now_, rtt_, cc_.cwnd());
  run_for(rtt_);
  EXPECT_EQ(cc_.k_seconds(), 0);  // W_max is the window at the start of the stage
  EXPECT_GT(segments(), 70);
}

TEST_F(CubicTest, TimeSpentApplicationLimitedDoesNotAdvanceTheCurve) {
  grow_to(100);
  lose();
  const Time epoch = now_;
  run_for(seconds(1));
  const double before = segments();
  run_for(seconds(10), kMss);  // one segment in flight for ten seconds
  EXPECT_EQ(segments(), before);
  run_for(seconds(1));
  // Where the curve is after 2 s, not 12 s (which would be far beyond W_max).
  EXPECT_NEAR(segments(), w_cubic(2, cc_.k_seconds(), 100), 2);
  EXPECT_LT(segments(), 100);
  EXPECT_GT(now_ - epoch, seconds(11));
}

}  // namespace
}  // namespace tapstack::tcp
