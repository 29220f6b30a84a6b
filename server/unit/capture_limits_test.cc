// CaptureLimits: --max-captures and --capture-memory refuse with RESOURCE_EXHAUSTED naming the
// flag, and a reservation gives its share back when it goes.
#include "server/capture_limits.h"

#include <gtest/gtest.h>

namespace tapstack::server {
namespace {

TEST(CaptureLimits, CountAndMemoryAreBoundedAndGivenBack) {
  CaptureLimits limits(2, 10 << 20);
  CaptureLimits::Reservation a, b, c;
  EXPECT_TRUE(limits.reserve(4 << 20, a).ok());
  grpc::Status too_big = limits.reserve(7 << 20, b);
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(too_big.error_message().find("--capture-memory"), std::string::npos);
  EXPECT_TRUE(limits.reserve(6 << 20, b).ok());
  EXPECT_EQ(limits.running(), 2u);
  grpc::Status too_many = limits.reserve(1, c);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(too_many.error_message().find("--max-captures"), std::string::npos);
  a = {};
  EXPECT_EQ(limits.running(), 1u);
  EXPECT_TRUE(limits.reserve(4 << 20, c).ok());
  {
    CaptureLimits::Reservation moved = std::move(c);
    EXPECT_EQ(limits.running(), 2u);
  }
  EXPECT_EQ(limits.running(), 1u);
}

TEST(CaptureLimits, ZeroCapturesRefusesEveryOne) {
  CaptureLimits limits(0, 1 << 20);
  CaptureLimits::Reservation r;
  EXPECT_EQ(limits.reserve(65536, r).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(CaptureLimits, TotalsAddUp) {
  CaptureLimits limits(1, 1 << 20);
  limits.count(5, 1);
  limits.count(2, 0);
  EXPECT_EQ(limits.frames(), 7u);
  EXPECT_EQ(limits.lost(), 1u);
}

}  // namespace
}  // namespace tapstack::server
