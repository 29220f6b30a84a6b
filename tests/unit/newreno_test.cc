// NewReno and the shared machinery: the initial window, slow start with appropriate byte
// counting, congestion avoidance by byte counting, RFC 6582 fast recovery with inflation and
// partial-ACK deflation (and without them under SACK), and timeouts (RFC 5681 §3.1).
#include "stack/tcp/newreno.h"

#include <gtest/gtest.h>

namespace tapstack::tcp {
namespace {

constexpr uint32_t kMss = 1000;
constexpr Time kNow = seconds(10);

TEST(NewRenoTest, StartsWithTenSegmentsInSlowStart) {
  NewReno cc(kMss);
  EXPECT_EQ(cc.cwnd(), 10 * kMss);
  EXPECT_EQ(cc.ssthresh(), CongestionControl::kInfiniteSsthresh);
  EXPECT_TRUE(cc.in_slow_start());
  EXPECT_FALSE(cc.in_recovery());
}

TEST(NewRenoTest, SlowStartCountsBytesUpToTwoSegmentsPerAck) {
  NewReno cc(kMss);
  cc.on_ack(kMss, kNow, milliseconds(10), cc.cwnd());
  EXPECT_EQ(cc.cwnd(), 11 * kMss);
  cc.on_ack(300, kNow, std::nullopt, cc.cwnd());  // a small segment grows it by its size
  EXPECT_EQ(cc.cwnd(), 11 * kMss + 300);
  cc.on_ack(5 * kMss, kNow, std::nullopt, cc.cwnd());  // a stretch ACK: L = 2
  EXPECT_EQ(cc.cwnd(), 13 * kMss + 300);
}

TEST(NewRenoTest, ApplicationLimitedFlowKeepsItsWindow) {
  NewReno cc(kMss);
  cc.on_ack(kMss, kNow, std::nullopt, 2 * kMss);  // two segments out of ten in flight
  EXPECT_EQ(cc.cwnd(), 10 * kMss);
}

TEST(NewRenoTest, CongestionAvoidanceAddsOneSegmentPerWindowAcked) {
  NewReno cc(kMss);
  cc.on_rto(kNow, 10 * kMss, false);  // ssthresh 5000, cwnd 1000
  while (cc.in_slow_start()) cc.on_ack(kMss, kNow, std::nullopt, cc.cwnd());
  ASSERT_EQ(cc.cwnd(), 5 * kMss);
  for (int i = 0; i < 4; ++i) cc.on_ack(kMss, kNow, std::nullopt, cc.cwnd());
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  cc.on_ack(kMss, kNow, std::nullopt, cc.cwnd());
  EXPECT_EQ(cc.cwnd(), 6 * kMss);
  // Not using the window (a full segment still fits): no growth, however much is acked.
  for (int i = 0; i < 20; ++i) cc.on_ack(kMss, kNow, std::nullopt, 4 * kMss);
  EXPECT_EQ(cc.cwnd(), 6 * kMss);
}

TEST(NewRenoTest, SlowStartStopsAtSsthreshAndCarriesTheRestOver) {
  NewReno cc(kMss);
  cc.on_rto(kNow, 10 * kMss, false);  // ssthresh 5000
  for (int i = 0; i < 3; ++i) cc.on_ack(2 * kMss, kNow, std::nullopt, cc.cwnd());
  // 1000 -> 3000 -> 5000, where slow start ends; the third ACK counts towards avoidance.
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  EXPECT_FALSE(cc.in_slow_start());
}

TEST(NewRenoTest, FastRecoveryInflatesAndDeflatesAcrossPartialAcks) {
  NewReno cc(kMss);
  // Ten segments in flight, the first lost: three duplicate ACKs.
  cc.enter_recovery(kNow, 10 * kMss, RecoveryStyle::kDupAcks);
  EXPECT_TRUE(cc.in_recovery());
  EXPECT_EQ(cc.ssthresh(), 5 * kMss);  // FlightSize / 2
  EXPECT_EQ(cc.cwnd(), 8 * kMss);      // ssthresh + 3 * SMSS
  cc.on_dup_ack();
  cc.on_dup_ack();
  EXPECT_EQ(cc.cwnd(), 10 * kMss);  // one SMSS per further duplicate
  // A new ACK outside the recovery calls changes nothing while in recovery.
  cc.on_ack(kMss, kNow, std::nullopt, cc.cwnd());
  EXPECT_EQ(cc.cwnd(), 10 * kMss);
  // Partial ACK of 3 segments: deflate by 3000, add back one SMSS.
  cc.on_partial_ack(3 * kMss);
  EXPECT_EQ(cc.cwnd(), 8 * kMss);
  EXPECT_TRUE(cc.in_recovery());
  // Partial ACK of less than one SMSS: deflate only.
  cc.on_partial_ack(500);
  EXPECT_EQ(cc.cwnd(), 7 * kMss + 500);
  // The full ACK with 4 segments still in flight: min(ssthresh, 4000 + 1000).
  cc.exit_recovery(4 * kMss);
  EXPECT_FALSE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  EXPECT_EQ(cc.ssthresh(), 5 * kMss);
}

TEST(NewRenoTest, ExitWithLittleInFlightAvoidsABurst) {
  NewReno cc(kMss);
  cc.enter_recovery(kNow, 20 * kMss, RecoveryStyle::kDupAcks);
  cc.exit_recovery(kMss);
  EXPECT_EQ(cc.cwnd(), 2 * kMss);
  EXPECT_TRUE(cc.in_slow_start());  // and slow start takes it back to ssthresh
}

TEST(NewRenoTest, SackRecoveryKeepsCwndAtSsthresh) {
  NewReno cc(kMss);
  cc.enter_recovery(kNow, 10 * kMss, RecoveryStyle::kSack);
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  cc.on_dup_ack();
  cc.on_partial_ack(3 * kMss);
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
  cc.exit_recovery(10 * kMss);
  EXPECT_EQ(cc.cwnd(), 5 * kMss);
}

TEST(NewRenoTest, SsthreshIsAtLeastTwoSegments) {
  NewReno cc(kMss);
  cc.enter_recovery(kNow, kMss, RecoveryStyle::kSack);
  EXPECT_EQ(cc.ssthresh(), 2 * kMss);
}

TEST(NewRenoTest, TimeoutFallsToOneSegmentAndHoldsSsthreshWhenRepeated) {
  NewReno cc(kMss);
  cc.enter_recovery(kNow, 10 * kMss, RecoveryStyle::kDupAcks);
  cc.on_rto(kNow, 10 * kMss, false);
  EXPECT_FALSE(cc.in_recovery());
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), 5 * kMss);
  // The same segment times out again with only it in flight: ssthresh stays.
  cc.on_rto(kNow, kMss, true);
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), 5 * kMss);
}

TEST(CongestionControlFactoryTest, CubicByDefaultNewRenoSelectable) {
  EXPECT_EQ(make_congestion_control(CongestionControlKind::kCubic, kMss)->kind(),
            CongestionControlKind::kCubic);
  auto reno = make_congestion_control(CongestionControlKind::kNewReno, kMss);
  EXPECT_EQ(reno->kind(), CongestionControlKind::kNewReno);
  EXPECT_EQ(reno->cwnd(), 10 * kMss);
  EXPECT_EQ(parse_congestion_control("newreno"), CongestionControlKind::kNewReno);
  EXPECT_EQ(parse_congestion_control("cubic"), CongestionControlKind::kCubic);
  EXPECT_EQ(parse_congestion_control("bbr"), std::nullopt);
  EXPECT_EQ(to_string(CongestionControlKind::kCubic), "cubic");
}

}  // namespace
}  // namespace tapstack::tcp
