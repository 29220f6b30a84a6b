// tapstackctl's ADDRESS:PORT arguments in either family, and how it prints them back.
#include <gtest/gtest.h>

#include "server/ctl/args.h"

namespace tapstack::ctl {
namespace {

void expect(std::string_view text, bool address_required, const std::string& address,
            uint32_t port) {
  HostPort hp = parse_host_port("ARG", text, address_required);
  EXPECT_EQ(hp.address, address) << text;
  EXPECT_EQ(hp.port, port) << text;
}

std::string error_of(std::string_view text, bool address_required) {
  try {
    parse_host_port("ARG", text, address_required);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << text << " was taken";
  return "";
}

TEST(CtlArgs, Ipv4AsBefore) {
  expect("198.18.0.1:80", true, "198.18.0.1", 80);
  expect("8080", false, "", 8080);
  expect(":8080", false, "", 8080);
  expect("198.18.0.2:0", false, "198.18.0.2", 0);
  expect("198.18.0.2", false, "198.18.0.2", 0);
  EXPECT_EQ(error_of("8080", true), "ARG must be ADDRESS:PORT, not '8080'");
  EXPECT_EQ(error_of("198.18.0.1:http", true), "ARG port must be a number, not 'http'");
  EXPECT_EQ(error_of("198.18.0:80", true), "ARG: '198.18.0' is not an IPv4 address");
}

TEST(CtlArgs, Ipv6InBracketsOrAlone) {
  expect("[2001:db8::2]:80", true, "2001:db8::2", 80);
  expect("[::]:80", false, "::", 80);
  expect("[fe80::1]:22", true, "fe80::1", 22);
  expect("2001:db8::2", false, "2001:db8::2", 0);
  expect("::", false, "::", 0);
  EXPECT_EQ(error_of("2001:db8::2", true),
            "ARG must be ADDRESS:PORT: an IPv6 address takes brackets before its port, "
            "[2001:db8::2]:PORT");
  EXPECT_EQ(error_of("[2001:db8::2]", true), "ARG must be [IPV6]:PORT, not '[2001:db8::2]'");
  EXPECT_EQ(error_of("[198.18.0.1]:80", true),
            "ARG: '198.18.0.1' in brackets is not an IPv6 address");
  EXPECT_EQ(error_of("2001:db8::g", false), "ARG: '2001:db8::g' is not an IPv6 address");
  EXPECT_EQ(error_of("[::]:", false), "ARG port must be a number, not ''");
}

TEST(CtlArgs, PrintsWhatItReads) {
  EXPECT_EQ(host_port_text("198.18.0.2", 80), "198.18.0.2:80");
  EXPECT_EQ(host_port_text("2001:db8::2", 80), "[2001:db8::2]:80");
  EXPECT_EQ(host_port_text("::", 0), "[::]:0");
}

}  // namespace
}  // namespace tapstack::ctl
