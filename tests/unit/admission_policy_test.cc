// The admission policy as a value: prefix text, containment, and what validate() refuses.
#include "stack/tcp/admission_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tapstack::tcp {
namespace {

IpPrefix prefix(std::string_view text) {
  auto p = IpPrefix::parse(text);
  EXPECT_TRUE(p) << text;
  return p.value_or(IpPrefix{});
}

IpAddress address(std::string_view text) {
  return *IpAddress::parse(text);
}

TEST(IpPrefixTest, ParsesEitherFamilyAndPrintsItBack) {
  for (std::string_view text : {"198.18.0.0/15", "198.18.7.0/24", "198.18.7.9/32", "0.0.0.0/0",
                                "2001:db8::/32", "2001:db8:0:1::/64", "::/0", "2001:db8::1/128"}) {
    EXPECT_EQ(prefix(text).to_string(), text);
  }
  EXPECT_TRUE(prefix("198.18.0.0/15").address.is_v4());
  EXPECT_EQ(prefix("198.18.0.0/15").length, 15);
  EXPECT_EQ(prefix("2001:db8::/32").length, 32);
}

TEST(IpPrefixTest, RefusesBadText) {
  for (std::string_view text :
       {"", "198.18.0.0", "198.18.0.0/", "/24", "198.18.0.0/33", "2001:db8::/129",
        "198.18.0.1/15",   // host bits past the length
        "2001:db8::1/64",  // the same in IPv6
        "198.18.0.0/-1", "198.18.0.0/024x", "198.18.0.0/ 24", "198.18.0.0/24 ", "198.18.0/24",
        "::ffff:198.18.0.0/120",  // IPv4 is written as IPv4
        "2001:db8::/32/1", "example.com/24"}) {
    EXPECT_FALSE(IpPrefix::parse(text)) << text;
  }
}

TEST(IpPrefixTest, ContainsAddressesOfItsOwnFamilyOnly) {
  const IpPrefix p = prefix("198.18.4.0/22");
  EXPECT_TRUE(p.contains(address("198.18.4.0")));
  EXPECT_TRUE(p.contains(address("198.18.7.255")));
  EXPECT_FALSE(p.contains(address("198.18.8.0")));
  EXPECT_FALSE(p.contains(address("198.18.3.255")));
  EXPECT_TRUE(prefix("0.0.0.0/0").contains(address("203.0.113.1")));
  // ::/0 is all of IPv6, not the IPv4-mapped addresses IPv4 peers are held as.
  EXPECT_FALSE(prefix("::/0").contains(address("198.18.0.1")));
  EXPECT_FALSE(prefix("0.0.0.0/0").contains(address("2001:db8::1")));
  EXPECT_TRUE(prefix("::/0").contains(address("2001:db8::1")));
  const IpPrefix v6 = prefix("2001:db8:0:2::/63");
  EXPECT_TRUE(v6.contains(address("2001:db8:0:3:ffff::1")));
  EXPECT_TRUE(v6.contains(address("2001:db8:0:2::5")));
  EXPECT_FALSE(v6.contains(address("2001:db8:0:4::")));
  EXPECT_FALSE(v6.contains(address("2001:db8:0:1::")));
}

TEST(IpPrefixTest, CoversLongerPrefixesInsideIt) {
  EXPECT_TRUE(prefix("198.18.0.0/15").covers(prefix("198.19.4.0/24")));
  EXPECT_TRUE(prefix("198.18.0.0/15").covers(prefix("198.18.0.0/15")));
  EXPECT_FALSE(prefix("198.19.4.0/24").covers(prefix("198.18.0.0/15")));
  EXPECT_FALSE(prefix("198.18.0.0/24").covers(prefix("198.18.1.0/24")));
  EXPECT_FALSE(prefix("::/0").covers(prefix("198.18.0.0/24")));
  EXPECT_TRUE(prefix("2001:db8::/32").covers(prefix("2001:db8:5::/48")));
}

TEST(IpPrefixTest, MaskedClearsBitsPastTheLengthInTheFamilysOwnBits) {
  EXPECT_EQ(masked(address("198.18.7.200"), 24), address("198.18.7.0"));
  EXPECT_EQ(masked(address("198.18.7.200"), 15), address("198.18.0.0"));
  EXPECT_EQ(masked(address("198.18.7.200"), 32), address("198.18.7.200"));
  EXPECT_EQ(masked(address("198.18.7.200"), 0), address("0.0.0.0"));
  EXPECT_TRUE(masked(address("198.18.7.200"), 0).is_v4());
  EXPECT_EQ(masked(address("2001:db8:1:2:3::4"), 64), address("2001:db8:1:2::"));
  EXPECT_EQ(masked(address("2001:db8:1:2:3::4"), 33), address("2001:db8::"));
}

TEST(AdmissionReasonTest, NamesAreTheExportersLabels) {
  EXPECT_EQ(to_string(AdmissionReason::kDenied), "denied");
  EXPECT_EQ(to_string(AdmissionReason::kNotAllowed), "not_allowed");
  EXPECT_EQ(to_string(AdmissionReason::kRateLimited), "rate_limited");
  EXPECT_EQ(to_string(AdmissionReason::kHalfOpenCap), "half_open_cap");
  EXPECT_EQ(to_string(AdmissionReason::kConnectionCap), "connection_cap");
  EXPECT_EQ(to_string(AdmissionReason::kSourceTableFull), "source_table_full");
}

// validate()'s verdict: ok, or kInvalidArgument whose message holds `words`.
void expect_invalid(const AdmissionPolicy& p, std::string_view words) {
  Status s = p.validate();
  EXPECT_EQ(s.code, ErrorCode::kInvalidArgument) << "expected a complaint about " << words;
  EXPECT_NE(s.message.find(words), std::string::npos) << s.message;
}

TEST(AdmissionPolicyTest, DefaultAndFullPoliciesAreValid) {
  EXPECT_TRUE(AdmissionPolicy{}.validate().is_ok());
  AdmissionPolicy p;
  p.allow = {prefix("198.18.0.0/15"), prefix("2001:db8::/32")};
  p.deny = {prefix("198.18.66.0/24"), prefix("2001:db8:bad::/48")};
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 0.5, .burst = 1};
  p.max_half_open = 10;
  p.max_connections = 100;
  p.ipv4_source_prefix = 32;
  p.ipv6_source_prefix = 128;
  p.source_table_size = AdmissionPolicy::kMaxSourceTableSize;
  EXPECT_TRUE(p.validate().is_ok()) << p.validate().message;
  EXPECT_TRUE(p.tracks_sources());
  EXPECT_FALSE(AdmissionPolicy{.allow = p.allow}.tracks_sources());
}

TEST(AdmissionPolicyTest, RefusesBadSourcePrefixLengths) {
  expect_invalid({.ipv4_source_prefix = 0}, "IPv4 source prefix length 0");
  expect_invalid({.ipv4_source_prefix = 33}, "IPv4 source prefix length 33");
  expect_invalid({.ipv6_source_prefix = 0}, "IPv6 source prefix length 0");
  expect_invalid({.ipv6_source_prefix = 129}, "IPv6 source prefix length 129");
}

TEST(AdmissionPolicyTest, RefusesBadRates) {
  using Rate = AdmissionPolicy::SynRate;
  for (double bad : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), 2e9}) {
    expect_invalid({.syn_rate = Rate{.per_second = bad, .burst = 5}}, "SYN rate");
  }
  expect_invalid({.syn_rate = Rate{.per_second = 10, .burst = 0}}, "SYN burst");
}

TEST(AdmissionPolicyTest, RefusesTooManyPrefixes) {
  AdmissionPolicy p;
  for (uint32_t i = 0; i <= AdmissionPolicy::kMaxPrefixes; ++i) {
    auto& list = i % 2 ? p.deny : p.allow;
    list.push_back(IpPrefix{Ipv4Address{(198u << 24) | (18u << 16) | i}, 32});
  }
  expect_invalid(p, "1025 prefixes; at most 1024");
  p.deny.pop_back();
  EXPECT_TRUE(p.validate().is_ok()) << p.validate().message;
}

TEST(AdmissionPolicyTest, RefusesConflictsAndDuplicates) {
  expect_invalid({.allow = {prefix("198.18.1.0/24")}, .deny = {prefix("198.18.1.0/24")}},
                 "198.18.1.0/24 is both allowed and denied");
  expect_invalid({.allow = {prefix("198.18.1.0/24")}, .deny = {prefix("198.18.0.0/16")}},
                 "allow prefix 198.18.1.0/24 is inside deny prefix 198.18.0.0/16");
  expect_invalid({.allow = {prefix("198.18.1.0/24"), prefix("198.18.1.0/24")}},
                 "allow prefix 198.18.1.0/24 is listed twice");
  expect_invalid(
      {.deny = {prefix("2001:db8::/32"), prefix("198.18.0.0/15"), prefix("2001:db8::/32")}},
      "deny prefix 2001:db8::/32 is listed twice");
  // A deny prefix inside an allow prefix carves a hole: fine.
  AdmissionPolicy hole{.allow = {prefix("198.18.0.0/16")}, .deny = {prefix("198.18.1.0/24")}};
  EXPECT_TRUE(hole.validate().is_ok());
  // The same bits in the other family are another prefix.
  AdmissionPolicy families{.allow = {prefix("0.0.0.0/0")}, .deny = {prefix("::/0")}};
  EXPECT_TRUE(families.validate().is_ok());
}

TEST(AdmissionPolicyTest, RefusesPrefixesMadeWithHostBitsOrBadLengths) {
  expect_invalid({.allow = {IpPrefix{address("198.18.1.1"), 24}}}, "bits set past its length");
  expect_invalid({.deny = {IpPrefix{address("198.18.1.0"), 40}}}, "length past 32");
}

TEST(AdmissionPolicyTest, RefusesSourceTableSizesOutOfRange) {
  expect_invalid({.source_table_size = 0}, "source table size 0");
  expect_invalid({.source_table_size = AdmissionPolicy::kMaxSourceTableSize + 1},
                 "source table size 1048577");
}

}  // namespace
}  // namespace tapstack::tcp
