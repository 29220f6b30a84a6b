// What each engine loop's replica applies of a listener group's admission policy (--queues).
#include <gtest/gtest.h>

#include "server/admission_share.h"

namespace tapstack::server {
namespace {

tcp::AdmissionPolicy limited() {
  tcp::AdmissionPolicy p;
  p.deny.push_back({*IpAddress::parse("198.18.0.0"), 24});
  p.syn_rate = tcp::AdmissionPolicy::SynRate{.per_second = 100, .burst = 10};
  p.max_half_open = 5;
  p.max_connections = 64;
  p.source_table_size = 1000;
  return p;
}

TEST(AdmissionShare, OneLoopHasTheWholePolicy) {
  EXPECT_EQ(admission_share(limited(), 1), limited());
}

TEST(AdmissionShare, RateDividedBurstAndCapsRoundedUp) {
  tcp::AdmissionPolicy share = admission_share(limited(), 3);
  ASSERT_TRUE(share.syn_rate);
  EXPECT_DOUBLE_EQ(share.syn_rate->per_second, 100.0 / 3);
  EXPECT_EQ(share.syn_rate->burst, 4u);  // ceil(10/3): a share is never 0
  EXPECT_EQ(share.max_half_open, 2u);    // ceil(5/3)
  EXPECT_EQ(share.max_connections, 22u);
  // The lists are exact in every loop; each loop's table has the whole bound.
  EXPECT_EQ(share.deny, limited().deny);
  EXPECT_EQ(share.source_table_size, 1000u);
}

TEST(AdmissionShare, NoCapStaysNoCapAndSmallValuesStayAtOne) {
  tcp::AdmissionPolicy p;
  p.syn_rate = tcp::AdmissionPolicy::SynRate{.per_second = 1, .burst = 1};
  p.max_connections = 1;
  tcp::AdmissionPolicy share = admission_share(p, 4);
  EXPECT_DOUBLE_EQ(share.syn_rate->per_second, 0.25);
  EXPECT_EQ(share.syn_rate->burst, 1u);
  EXPECT_EQ(share.max_half_open, 0u);  // 0 means no cap, in every loop
  EXPECT_EQ(share.max_connections, 1u);
  // A listener without a rate keeps none.
  EXPECT_FALSE(admission_share(tcp::AdmissionPolicy{}, 4).syn_rate);
  // The largest values do not overflow on the way.
  p.max_half_open = UINT32_MAX;
  EXPECT_EQ(admission_share(p, 2).max_half_open, 2147483648u);
}

}  // namespace
}  // namespace tapstack::server
