#include "stack/header/addresses.h"

#include <gtest/gtest.h>

namespace tapstack {
namespace {

TEST(Addresses, ParsesAndPrintsIpv4) {
  auto a = Ipv4Address::parse("198.18.0.2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 0xc6120002u);
  EXPECT_EQ(a->to_string(), "198.18.0.2");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d", "1.2.3.4 "}) {
    EXPECT_FALSE(Ipv4Address::parse(bad)) << bad;
  }
}

TEST(Addresses, SubnetContainsAndRejectsBadPrefix) {
  auto s = Ipv4Subnet::parse("198.18.0.2/24");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->contains(*Ipv4Address::parse("198.18.0.200")));
  EXPECT_FALSE(s->contains(*Ipv4Address::parse("198.19.0.1")));
  EXPECT_FALSE(Ipv4Subnet::parse("198.18.0.2/33"));
  EXPECT_FALSE(Ipv4Subnet::parse("198.18.0.2"));
}

TEST(Addresses, ParsesMac) {
  auto m = MacAddress::parse("02:00:00:00:00:0a");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "02:00:00:00:00:0a");
  EXPECT_FALSE(MacAddress::parse("02:00:00:00:00"));
  EXPECT_FALSE(MacAddress::parse("02:00:00:00:00:0g"));
}

}  // namespace
}  // namespace tapstack
