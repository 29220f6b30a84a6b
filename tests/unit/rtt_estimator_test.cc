// RFC 6298's estimator: the first sample, the smoothing of later ones (alpha 1/8, beta 1/4),
// the granularity term, Linux's 200 ms floor, the 120 s ceiling and the doubling backoff.
#include "stack/tcp/rtt_estimator.h"

#include <gtest/gtest.h>

namespace tapstack::tcp {
namespace {

TEST(RttEstimatorTest, StartsAtTheInitialRtoWithoutASample) {
  RttEstimator rtt;
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.rto(), seconds(1));
  EXPECT_EQ(RttEstimator(seconds(3)).rto(), seconds(3));
  EXPECT_EQ(RttEstimator(milliseconds(10)).rto(), milliseconds(200));
  EXPECT_EQ(RttEstimator(seconds(500)).rto(), seconds(120));
}

TEST(RttEstimatorTest, FirstSampleSetsSrttAndHalfOfItAsVariation) {
  RttEstimator rtt;
  rtt.sample(milliseconds(500));
  EXPECT_TRUE(rtt.has_sample());
  EXPECT_EQ(rtt.srtt(), milliseconds(500));
  EXPECT_EQ(rtt.rttvar(), milliseconds(250));
  EXPECT_EQ(rtt.rto(), milliseconds(500 + 4 * 250));
}

TEST(RttEstimatorTest, LaterSamplesUpdateVariationFromTheOldSrttThenSmooth) {
  RttEstimator rtt;
  rtt.sample(milliseconds(500));
  rtt.sample(milliseconds(300));
  // RTTVAR = 3/4 * 250 + 1/4 * |500 - 300| = 237.5; SRTT = 7/8 * 500 + 1/8 * 300 = 475.
  EXPECT_EQ(rtt.rttvar(), microseconds(237500));
  EXPECT_EQ(rtt.srtt(), milliseconds(475));
  EXPECT_EQ(rtt.rto(), milliseconds(475 + 950));
}

TEST(RttEstimatorTest, SteadyRttLeavesTheClockGranularityAboveSrtt) {
  RttEstimator rtt;
  for (int i = 0; i < 200; ++i) rtt.sample(seconds(2));
  EXPECT_EQ(rtt.srtt(), seconds(2));
  EXPECT_EQ(rtt.rttvar(), Duration::zero());
  EXPECT_EQ(rtt.rto(), seconds(2) + RttEstimator::kGranularity);
}

TEST(RttEstimatorTest, ClampsToTheMinimumAndMaximum) {
  RttEstimator lan;
  lan.sample(milliseconds(10));  // 10 + 4 * 5 = 30 ms
  EXPECT_EQ(lan.rto(), milliseconds(200));

  RttEstimator slow;
  slow.sample(seconds(100));  // 100 + 4 * 50 = 300 s
  EXPECT_EQ(slow.rto(), seconds(120));
}

TEST(RttEstimatorTest, IgnoresNegativeSamples) {
  RttEstimator rtt;
  rtt.sample(-milliseconds(5));
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.rto(), seconds(1));
}

TEST(RttEstimatorTest, BackoffDoublesPerExpiryUpToTheMaximum) {
  RttEstimator rtt;
  EXPECT_EQ(rtt.backed_off(0), seconds(1));
  EXPECT_EQ(rtt.backed_off(1), seconds(2));
  EXPECT_EQ(rtt.backed_off(3), seconds(8));
  EXPECT_EQ(rtt.backed_off(6), seconds(64));
  EXPECT_EQ(rtt.backed_off(7), seconds(120));
  EXPECT_EQ(rtt.backed_off(1000), seconds(120));  // no overflow however long it goes on
  EXPECT_EQ(rtt.rto(), seconds(1));               // backing off does not change the estimate
}

}  // namespace
}  // namespace tapstack::tcp
