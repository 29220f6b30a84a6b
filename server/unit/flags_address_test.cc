// tapstackd's --address and --gateway: one IPv4 prefix and any number of IPv6 ones, a router
// per family, and the messages a mistaken command line gets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/flags.h"

namespace tapstack::server {
namespace {

ParsedFlags parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tapstackd");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_flags(static_cast<int>(argv.size()), argv.data());
}

// The error of a command line that must fail.
std::string error_of(std::vector<std::string> args) {
  ParsedFlags parsed = parse(std::move(args));
  EXPECT_FALSE(parsed.error.empty());
  return parsed.error;
}

TEST(FlagsAddress, DefaultIsIpv4Only) {
  ParsedFlags parsed = parse({});
  ASSERT_EQ(parsed.error, "");
  EngineConfig config = parsed.options.engine_config();
  EXPECT_EQ(config.address.to_string(), "198.18.0.2/24");
  EXPECT_TRUE(config.ipv6_addresses.empty());
  EXPECT_FALSE(config.ipv6_gateway);
}

TEST(FlagsAddress, OneIpv4AndSeveralIpv6) {
  ParsedFlags parsed =
      parse({"--address", "2001:db8::2/64", "--address=198.18.5.2/24", "--address",
             "2001:db8:1::2/48", "--gateway", "198.18.5.1", "--gateway", "2001:db8::1"});
  ASSERT_EQ(parsed.error, "");
  EngineConfig config = parsed.options.engine_config();
  EXPECT_EQ(config.address.to_string(), "198.18.5.2/24");
  ASSERT_EQ(config.ipv6_addresses.size(), 2u);
  EXPECT_EQ(config.ipv6_addresses[0].to_string(), "2001:db8::2/64");
  EXPECT_EQ(config.ipv6_addresses[1].to_string(), "2001:db8:1::2/48");
  EXPECT_EQ(config.gateway->to_string(), "198.18.5.1");
  EXPECT_EQ(config.ipv6_gateway->to_string(), "2001:db8::1");
}

TEST(FlagsAddress, LinkLocalRouter) {
  ParsedFlags parsed =
      parse({"--address", "198.18.0.2/24", "--address", "2001:db8::2/64", "--gateway", "fe80::1"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.options.engine_config().ipv6_gateway->to_string(), "fe80::1");
}

TEST(FlagsAddress, Ipv4ChecksStay) {
  EXPECT_EQ(error_of({"--address", "198.18.0.2/31"}),
            "--address needs a unicast A.B.C.D/N with N in 1..30, not '198.18.0.2/31'");
  EXPECT_EQ(error_of({"--address", "198.18.0.2/24", "--address", "198.18.1.2/24"}),
            "--address takes one IPv4 address; 198.18.1.2/24 would be a second beside "
            "198.18.0.2/24");
  EXPECT_EQ(error_of({"--gateway", "198.19.0.1"}),
            "--gateway 198.19.0.1 is not inside --address 198.18.0.2/24");
}

TEST(FlagsAddress, Ipv6NeedsAnIpv4Beside) {
  EXPECT_EQ(error_of({"--address", "2001:db8::2/64"}),
            "--address 2001:db8::2/64 needs an IPv4 --address beside it: the stack always has "
            "one IPv4 address");
}

TEST(FlagsAddress, Ipv6RefusesWhatIsNotAUnicastPrefix) {
  const std::vector<std::string> ipv4 = {"--address", "198.18.0.2/24", "--address"};
  auto with = [&](const std::string& v6) {
    std::vector<std::string> args = ipv4;
    args.push_back(v6);
    return error_of(args);
  };
  EXPECT_EQ(with("2001:db8::2"),
            "--address needs an IPv6 address with a prefix length 1..128 (e.g. 2001:db8::2/64), "
            "not '2001:db8::2'");
  EXPECT_EQ(with("2001:db8::2/0"),
            "--address needs an IPv6 address with a prefix length 1..128 (e.g. 2001:db8::2/64), "
            "not '2001:db8::2/0'");
  EXPECT_EQ(with("2001:db8::2/129"),
            "--address needs an IPv6 address with a prefix length 1..128 (e.g. 2001:db8::2/64), "
            "not '2001:db8::2/129'");
  EXPECT_EQ(with("2001:db8::g/64"),
            "--address needs an IPv6 address with a prefix length 1..128 (e.g. 2001:db8::2/64), "
            "not '2001:db8::g/64'");
  for (const char* bad : {"::/64", "::1/128", "ff02::1/64", "::ffff:198.18.0.3/120"}) {
    EXPECT_EQ(with(bad), "--address " + std::string(bad) + " is not a unicast IPv6 address");
  }
  EXPECT_EQ(with("fe80::2/64"),
            "--address fe80::2/64 is link-local: the stack's link-local address comes from its "
            "MAC (--mac)");
  EXPECT_EQ(error_of({"--address", "198.18.0.2/24", "--address", "2001:db8::2/64", "--address",
                      "2001:DB8:0::2/48"}),
            "--address 2001:db8::2 is given twice");
}

TEST(FlagsAddress, Ipv6Router) {
  const std::vector<std::string> both = {"--address", "198.18.0.2/24", "--address",
                                         "2001:db8::2/64", "--gateway"};
  auto with = [&](const std::string& router) {
    std::vector<std::string> args = both;
    args.push_back(router);
    return error_of(args);
  };
  EXPECT_EQ(with("2001:db8:1::1"),
            "--gateway 2001:db8:1::1 is neither link-local nor inside an IPv6 --address");
  EXPECT_EQ(with("2001:db8::2"), "--gateway 2001:db8::2 is this stack's address");
  EXPECT_EQ(with("ff02::2"), "--gateway ff02::2 is not a unicast IPv6 address");
  EXPECT_EQ(with("router"), "--gateway needs an IPv4 or IPv6 address, not 'router'");
  EXPECT_EQ(error_of({"--gateway", "fe80::1"}),
            "--gateway fe80::1 routes nothing without an IPv6 --address");
  std::vector<std::string> twice = both;
  twice.insert(twice.end(), {"fe80::1", "--gateway", "2001:db8::1"});
  EXPECT_EQ(error_of(twice), "--gateway takes one IPv6 router; 2001:db8::1 is a second");
  EXPECT_EQ(error_of({"--gateway", "198.18.0.1", "--gateway", "198.18.0.3"}),
            "--gateway takes one IPv4 router; 198.18.0.3 is a second");
}

TEST(FlagsAddress, GatewayMacIsIpv4s) {
  EXPECT_EQ(error_of({"--address", "198.18.0.2/24", "--address", "2001:db8::2/64", "--gateway",
                      "2001:db8::1", "--gateway-mac", "02:00:00:00:00:01"}),
            "--gateway-mac needs --gateway with an IPv4 router (it is an ARP entry)");
}

TEST(FlagsAddress, Ipv6NeedsOneQueue) {
  EXPECT_EQ(
      error_of({"--queues", "2", "--address", "198.18.0.2/24", "--address", "2001:db8::2/64"}),
      "--address 2001:db8::2/64 needs --queues 1 for now: the TAP's steering program "
      "steers IPv4 only, so IPv6 connections would not reach the loops that own them");
}

}  // namespace
}  // namespace tapstack::server
