#include "server/call_limiter.h"

#include <gtest/gtest.h>

namespace tapstack::server {
namespace {

TEST(CallLimiter, PerClientLimitNamesItsFlag) {
  CallLimiter limiter(2, 10);
  auto a = limiter.admit("ipv4:10.0.0.1");
  auto b = limiter.admit("ipv4:10.0.0.1");
  auto c = limiter.admit("ipv4:10.0.0.1");
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.ok());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(c.status().error_message().find("--grpc-max-calls-per-client"), std::string::npos);
  EXPECT_TRUE(limiter.admit("ipv4:10.0.0.2").ok());  // another client is not affected
  EXPECT_EQ(limiter.in_flight(), 2u);
}

TEST(CallLimiter, TotalLimitNamesItsFlag) {
  CallLimiter limiter(5, 2);
  auto a = limiter.admit("x");
  auto b = limiter.admit("y");
  auto c = limiter.admit("z");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(c.status().error_message().find("--grpc-max-calls)"), std::string::npos);
}

TEST(CallLimiter, SlotsComeBackWhenCallsEnd) {
  CallLimiter limiter(1, 1);
  {
    auto a = limiter.admit("x");
    EXPECT_FALSE(limiter.admit("x").ok());
    CallLimiter::Slot moved = std::move(a);  // a moved slot is given back once
    EXPECT_EQ(limiter.in_flight(), 1u);
  }
  EXPECT_EQ(limiter.in_flight(), 0u);
  EXPECT_TRUE(limiter.admit("x").ok());
}

}  // namespace
}  // namespace tapstack::server
