// The busy-poll window (link/spin_window.h): fixed, off, and adaptive (NAPI-style).
#include "stack/link/spin_window.h"

#include <gtest/gtest.h>

namespace tapstack::link {
namespace {

using std::chrono::microseconds;

const Time kInput = Time{} + std::chrono::seconds(1);

TEST(SpinWindow, OffNeverSpins) {
  SpinWindow w({});
  EXPECT_LE(w.until(kInput, {}), kInput);
}

TEST(SpinWindow, FixedSpinsItsWindowWhateverItCatches) {
  SpinWindow w({microseconds(50), false});
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(w.until(kInput, {}), kInput + microseconds(50));
    w.spun(false);
  }
  EXPECT_EQ(w.length(), microseconds(50));
}

TEST(SpinWindow, EndsAtTheWaitsDeadline) {
  SpinWindow w({microseconds(50), false});
  EXPECT_EQ(w.until(kInput, kInput + microseconds(20)), kInput + microseconds(20));
}

TEST(SpinWindow, AdaptiveHalvesToTheFloorOnMissesAndDoublesBackOnCatches) {
  SpinWindow w({microseconds(50), true});
  std::vector<Duration> lengths;
  for (int i = 0; i < 6; ++i) {
    w.until(kInput, {});
    w.spun(false);
    lengths.push_back(w.length());
  }
  EXPECT_EQ(lengths,
            (std::vector<Duration>{
                microseconds(25), microseconds(12) + std::chrono::nanoseconds(500),
                std::chrono::nanoseconds(6250), kAdaptiveFloor, kAdaptiveFloor, kAdaptiveFloor}));
  // Sparse traffic now costs one floor-long spin per input.
  EXPECT_EQ(w.until(kInput, {}), kInput + kAdaptiveFloor);
  w.spun(true);
  EXPECT_EQ(w.length(), 2 * kAdaptiveFloor);
  for (int i = 0; i < 5; ++i) w.spun(true);
  EXPECT_EQ(w.length(), microseconds(50));  // never past the configured window
}

TEST(SpinWindow, AdaptiveIgnoresASpinATimerCutShort) {
  SpinWindow w({microseconds(50), true});
  w.until(kInput, kInput + microseconds(10));
  w.spun(false);
  EXPECT_EQ(w.length(), microseconds(50));
}

TEST(SpinWindow, AdaptiveFloorNeverExceedsASmallerWindow) {
  SpinWindow w({microseconds(2), true});
  w.until(kInput, {});
  w.spun(false);
  EXPECT_EQ(w.length(), microseconds(2));
}

}  // namespace
}  // namespace tapstack::link
