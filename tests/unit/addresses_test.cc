#include "stack/header/addresses.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <unordered_set>
#include <utility>

#include "stack/header/ipv6_address.h"

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

Ipv6Address V6(const char* text) {
  auto a = Ipv6Address::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(Ipv6Address{});
}

TEST(Addresses, ParsesIpv6TextForms) {
  // RFC 4291 §2.2's examples: the preferred form, "::" compression, a trailing dotted quad.
  EXPECT_EQ(V6("2001:DB8:0:0:8:800:200C:417A").bytes,
            (std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0x08, 0x08, 0, 0x20,
                                     0x0c, 0x41, 0x7a}));
  EXPECT_EQ(V6("2001:DB8::8:800:200C:417A"), V6("2001:DB8:0:0:8:800:200C:417A"));
  EXPECT_EQ(V6("FF01::101"), V6("FF01:0:0:0:0:0:0:101"));
  EXPECT_EQ(V6("::1"), V6("0:0:0:0:0:0:0:1"));
  EXPECT_EQ(V6("::"), Ipv6Address{});
  EXPECT_EQ(V6("::13.1.68.3"), V6("0:0:0:0:0:0:d01:4403"));
  EXPECT_EQ(V6("::FFFF:129.144.52.38"), V6("::ffff:8190:3426"));
  EXPECT_EQ(V6("1:2:3:4:5:6:1.2.3.4"), V6("1:2:3:4:5:6:102:304"));
  // "::" stands for one zero group as well as for seven.
  EXPECT_EQ(V6("1::3:4:5:6:7:8"), V6("1:0:3:4:5:6:7:8"));
  EXPECT_EQ(V6("1:2:3:4:5:6:7::"), V6("1:2:3:4:5:6:7:0"));
  EXPECT_EQ(V6("::2:3:4:5:6:7:8"), V6("0:2:3:4:5:6:7:8"));
  EXPECT_EQ(V6("0001:00:0:000f::"), V6("1:0:0:f::"));
}

TEST(Addresses, RejectsMalformedIpv6) {
  for (const char* bad : {"",
                          ":",
                          ":::",
                          "1:2:3:4:5:6:7",
                          "1:2:3:4:5:6:7:8:9",
                          "1::2::3",
                          "1:::2",
                          "::1::",
                          "12345::",
                          "g::",
                          "1:2:3:4:5:6:7:8::",
                          "::1:2:3:4:5:6:7:8",
                          "1::2:3:4:5:6:7:8",
                          ":1::",
                          "1::2:",
                          ":1:2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:7:8:",
                          "1.2.3.4",
                          "::1.2.3",
                          "::1.2.3.256",
                          "1.2.3.4::",
                          "::1.2.3.4:5",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::ffff:1.2.3.4.5",
                          "fe80::1%eth0",
                          "[::1]",
                          " ::1",
                          "::1 ",
                          "::-1",
                          "::+1",
                          "0x1::",
                          "::1/128",
                          "1:2:3:4:5:6:7:8:1.2.3.4"}) {
    EXPECT_FALSE(Ipv6Address::parse(bad)) << bad;
  }
}

TEST(Addresses, PrintsIpv6AsRfc5952) {
  const std::pair<const char*, const char*> cases[] = {
      {"2001:0db8::0001", "2001:db8::1"},                // §4.1: no leading zeros
      {"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},         // §4.2.1: shorten as far as possible
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // §4.2.2: not one zero group
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},           // §4.2.3: the longest run
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // §4.2.3: the first of equal runs
      {"2001:DB8::AbCd", "2001:db8::abcd"},              // §4.3: lowercase
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},          // §5: IPv4-mapped, mixed notation
      {"0:0:0:0:0:0:0:0", "::"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"1:0:0:0:0:0:0:0", "1::"},
      {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
      {"0:1:0:0:1:0:0:0", "0:1:0:0:1::"},
      {"fe80:0:0:0:0:ff:fe00:2", "fe80::ff:fe00:2"},
      {"ff02::1:ff00:2", "ff02::1:ff00:2"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(V6(in).to_string(), out) << in;

  // Any address prints to text that parses back to it; half its groups zero, so that runs of
  // every length and position occur.
  std::mt19937 rng(6);
  for (int i = 0; i < 5000; ++i) {
    Ipv6Address a;
    for (size_t g = 0; g < 8; ++g) {
      if (rng() & 1) continue;
      a.bytes[2 * g] = static_cast<uint8_t>(rng() % 3 == 0 ? 0 : rng());
      a.bytes[2 * g + 1] = static_cast<uint8_t>(rng());
    }
    ASSERT_EQ(Ipv6Address::parse(a.to_string()), a) << a.to_string();
  }
}

TEST(Addresses, Ipv6Predicates) {
  EXPECT_TRUE(V6("::").is_unspecified());
  EXPECT_FALSE(V6("::1").is_unspecified());
  EXPECT_TRUE(V6("::1").is_loopback());
  EXPECT_FALSE(V6("::2").is_loopback());
  EXPECT_FALSE(V6("1::1").is_loopback());
  EXPECT_TRUE(V6("ff02::1").is_multicast());
  EXPECT_TRUE(V6("ff00::").is_multicast());
  EXPECT_FALSE(V6("fe80::1").is_multicast());
  EXPECT_TRUE(V6("fe80::1").is_link_local());
  EXPECT_TRUE(V6("febf:ffff::1").is_link_local());  // fe80::/10 ends at febf
  EXPECT_FALSE(V6("fec0::1").is_link_local());
  EXPECT_FALSE(V6("fe7f::1").is_link_local());
  EXPECT_FALSE(V6("ff02::1").is_link_local());
  EXPECT_TRUE(V6("::ffff:198.18.0.1").is_v4_mapped());
  EXPECT_FALSE(V6("::fffe:198.18.0.1").is_v4_mapped());
  EXPECT_FALSE(V6("::198.18.0.1").is_v4_mapped());
  EXPECT_FALSE(V6("1::ffff:198.18.0.1").is_v4_mapped());
  EXPECT_TRUE(V6("ff02::1:ff00:2").is_solicited_node());
  EXPECT_TRUE(V6("ff02::1:ffff:ffff").is_solicited_node());
  EXPECT_FALSE(V6("ff02::1:fe00:2").is_solicited_node());
  EXPECT_FALSE(V6("ff02::1").is_solicited_node());
  EXPECT_FALSE(V6("ff05::1:ff00:2").is_solicited_node());
}

TEST(Addresses, SolicitedNodeGroupAndItsMac) {
  // RFC 4291 §2.7.1: ff02::1:ff and the low 24 bits.
  EXPECT_EQ(V6("2001:db8::1:2345:6789").solicited_node(), V6("ff02::1:ff45:6789"));
  EXPECT_EQ(V6("fe80::ff:fe00:2").solicited_node(), V6("ff02::1:ff00:2"));
  EXPECT_TRUE(V6("4037::01:800:200e:8c6c").solicited_node().is_solicited_node());
  // RFC 2464 §7: 33:33 and the low 32 bits.
  EXPECT_EQ(V6("ff02::1:ff45:6789").multicast_mac().to_string(), "33:33:ff:45:67:89");
  EXPECT_EQ(V6("ff02::1").multicast_mac().to_string(), "33:33:00:00:00:01");
  EXPECT_EQ(V6("ff0e::fedc:ba98").multicast_mac().to_string(), "33:33:fe:dc:ba:98");
  EXPECT_TRUE(V6("ff02::1").multicast_mac().is_multicast());
}

TEST(Addresses, LinkLocalFromMacIsModifiedEui64) {
  // ff:fe in the middle; the universal/local bit (0x02 of the first byte) inverted.
  EXPECT_EQ(Ipv6Address::link_local_from_mac(*MacAddress::parse("02:00:00:00:00:02")).to_string(),
            "fe80::ff:fe00:2");
  // RFC 4291 Appendix A's example, 34-56-78-9A-BC-DE.
  EXPECT_EQ(Ipv6Address::link_local_from_mac(*MacAddress::parse("34:56:78:9a:bc:de")).to_string(),
            "fe80::3656:78ff:fe9a:bcde");
  EXPECT_EQ(Ipv6Address::link_local_from_mac(*MacAddress::parse("00:1b:21:ab:cd:ef")).to_string(),
            "fe80::21b:21ff:feab:cdef");
  EXPECT_TRUE(
      Ipv6Address::link_local_from_mac(*MacAddress::parse("ff:ff:ff:ff:ff:ff")).is_link_local());
}

TEST(Addresses, Ipv6SubnetContainsAndRejectsBadPrefix) {
  auto s = Ipv6Subnet::parse("2001:db8::2/64");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->prefix, 64);
  EXPECT_EQ(s->to_string(), "2001:db8::2/64");
  EXPECT_TRUE(s->contains(V6("2001:db8::ffff:1")));
  EXPECT_TRUE(s->contains(V6("2001:db8:0:0:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(s->contains(V6("2001:db8:0:1::2")));
  EXPECT_FALSE(s->contains(V6("2001:db9::2")));

  auto odd = Ipv6Subnet::parse("2001:db8:0:ff80::/57");  // a prefix inside a byte
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(V6("2001:db8:0:ff80::1")));
  EXPECT_TRUE(odd->contains(V6("2001:db8:0:ffff::1")));
  EXPECT_FALSE(odd->contains(V6("2001:db8:0:ff7f::1")));
  EXPECT_TRUE(Ipv6Subnet::parse("::/0")->contains(V6("ff02::1")));
  EXPECT_TRUE(Ipv6Subnet::parse("::1/128")->contains(V6("::1")));
  EXPECT_FALSE(Ipv6Subnet::parse("::1/128")->contains(V6("::")));
  EXPECT_FALSE(Ipv6Subnet::parse("::1/127")->contains(V6("::2")));
  EXPECT_TRUE(Ipv6Subnet::parse("::1/127")->contains(V6("::")));

  for (const char* bad : {"2001:db8::2/129", "2001:db8::2", "2001:db8::2/", "/64", "2001:db8::g/64",
                          "2001:db8::2/-1", "2001:db8::2/0064"}) {
    EXPECT_FALSE(Ipv6Subnet::parse(bad)) << bad;
  }
}

TEST(Addresses, Ipv6OrdersAndHashesByValue) {
  EXPECT_LT(V6("::1"), V6("::2"));
  EXPECT_LT(V6("::ffff"), V6("1::"));  // network byte order: the first byte counts most
  EXPECT_LT(V6("fe80::1"), V6("ff02::1"));
  EXPECT_EQ(V6("2001:db8::1"), V6("2001:0db8:0:0:0:0:0:1"));
  EXPECT_NE(V6("2001:db8::1"), V6("2001:db8::1:0"));

  const std::hash<Ipv6Address> hash;
  EXPECT_EQ(hash(V6("2001:db8::1")), hash(V6("2001:db8:0::1")));
  std::unordered_set<Ipv6Address> set;
  for (uint32_t i = 0; i < 1000; ++i) {
    Ipv6Address a = V6("fe80::");
    a.bytes[12] = static_cast<uint8_t>(i >> 8);
    a.bytes[15] = static_cast<uint8_t>(i);
    set.insert(a);
  }
  EXPECT_EQ(set.size(), 1000u);
  EXPECT_TRUE(set.contains(V6("fe80::300:e7")));  // i = 999
}

}  // namespace
}  // namespace tapstack
