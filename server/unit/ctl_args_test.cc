// tapstackctl's ADDRESS:PORT arguments in either family, and how it prints them back; its
// admission policy flags.
#include <gtest/gtest.h>

#include "server/ctl/admission_args.h"
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

// The policy the flags make, and what is left of the arguments (what the verb reads next).
struct Taken {
  bool any;
  v1::AdmissionPolicy policy;
  std::optional<std::string> rest;
};
Taken take(std::vector<std::string> argv) {
  Args args(std::move(argv));
  Taken t;
  t.any = take_admission_flags(args, t.policy);
  t.rest = args.next_optional();
  args.done();
  return t;
}

std::string admission_error(std::vector<std::string> argv) {
  try {
    take(std::move(argv));
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "the flags were taken";
  return "";
}

TEST(CtlAdmissionArgs, NoFlagsNoPolicy) {
  Taken t = take({"7"});
  EXPECT_FALSE(t.any);
  EXPECT_EQ(t.policy.ByteSizeLong(), 0u);
  EXPECT_EQ(t.rest, "7");
}

TEST(CtlAdmissionArgs, ListsRepeatedAndCommaSeparated) {
  Taken t = take({"--allow", "198.18.0.0/15,2001:db8::/32", "7", "--deny=198.18.0.0/24", "--deny",
                  "198.19.0.7/32", "--allow", "198.20.0.0/16"});
  EXPECT_TRUE(t.any);
  EXPECT_EQ(std::vector<std::string>(t.policy.allow().begin(), t.policy.allow().end()),
            (std::vector<std::string>{"198.18.0.0/15", "2001:db8::/32", "198.20.0.0/16"}));
  EXPECT_EQ(std::vector<std::string>(t.policy.deny().begin(), t.policy.deny().end()),
            (std::vector<std::string>{"198.18.0.0/24", "198.19.0.7/32"}));
  EXPECT_EQ(t.rest, "7");
  // Prefixes are the server's to check; an empty one is a slip of the keyboard.
  EXPECT_EQ(admission_error({"--allow", "198.18.0.0/15,"}),
            "--allow needs a prefix, not '198.18.0.0/15,'");
  EXPECT_EQ(take({"--deny", "not-a-prefix"}).policy.deny(0), "not-a-prefix");
}

TEST(CtlAdmissionArgs, SynRateWithAndWithoutBurst) {
  Taken t = take({"--syn-rate", "100/20"});
  EXPECT_DOUBLE_EQ(t.policy.syn_rate().per_second(), 100);
  EXPECT_EQ(t.policy.syn_rate().burst(), 20u);
  t = take({"--syn-rate", "2.5"});  // a second's worth, rounded up
  EXPECT_DOUBLE_EQ(t.policy.syn_rate().per_second(), 2.5);
  EXPECT_EQ(t.policy.syn_rate().burst(), 3u);
  t = take({"--syn-rate", "0.1"});
  EXPECT_EQ(t.policy.syn_rate().burst(), 1u);
  // 0 goes to the server, which refuses it (INVALID_ARGUMENT): one place says what is valid.
  t = take({"--syn-rate", "0"});
  EXPECT_TRUE(t.policy.has_syn_rate());
  EXPECT_DOUBLE_EQ(t.policy.syn_rate().per_second(), 0);
  EXPECT_EQ(admission_error({"--syn-rate", "fast"}),
            "--syn-rate must be RATE[/BURST] (100, 0.5, 100/20), not 'fast'");
  EXPECT_EQ(admission_error({"--syn-rate", "-1"}),
            "--syn-rate must be RATE[/BURST] (100, 0.5, 100/20), not '-1'");
  EXPECT_EQ(admission_error({"--syn-rate", "inf"}),
            "--syn-rate must be RATE[/BURST] (100, 0.5, 100/20), not 'inf'");
  EXPECT_EQ(admission_error({"--syn-rate", "10/x"}), "--syn-rate BURST must be a number, not 'x'");
}

TEST(CtlAdmissionArgs, CapsTableAndSourcePrefix) {
  Taken t = take({"--max-half-open", "8", "--max-connections", "64", "--source-table", "1024",
                  "--source-prefix", "28/56"});
  EXPECT_EQ(t.policy.max_half_open(), 8u);
  EXPECT_EQ(t.policy.max_connections(), 64u);
  EXPECT_EQ(t.policy.source_table_size().value(), 1024u);
  EXPECT_EQ(t.policy.ipv4_source_prefix().value(), 28u);
  EXPECT_EQ(t.policy.ipv6_source_prefix().value(), 56u);
  t = take({"--source-prefix", "/48"});  // IPv4's left to the default
  EXPECT_FALSE(t.policy.has_ipv4_source_prefix());
  EXPECT_EQ(t.policy.ipv6_source_prefix().value(), 48u);
  t = take({"--source-prefix", "32"});
  EXPECT_EQ(t.policy.ipv4_source_prefix().value(), 32u);
  EXPECT_FALSE(t.policy.has_ipv6_source_prefix());
  // A length out of range is the server's to refuse; not a number is a usage error.
  EXPECT_EQ(take({"--source-prefix", "33/129"}).policy.ipv4_source_prefix().value(), 33u);
  EXPECT_EQ(admission_error({"--source-prefix", "/"}),
            "--source-prefix must be V4/V6 (24/64, /56, 28), not '/'");
  EXPECT_EQ(admission_error({"--source-prefix", "24/x"}),
            "--source-prefix IPv6 length must be a number, not 'x'");
  EXPECT_EQ(admission_error({"--max-connections", "-1"}),
            "--max-connections must be a number, not '-1'");
  EXPECT_EQ(admission_error({"--source-table", "4294967296"}),
            "--source-table is at most 4294967295");
}

TEST(CtlAdmissionArgs, RefusalsForAllAndPerGroup) {
  Taken t = take({"--refuse", "silence"});
  EXPECT_EQ(t.policy.list_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  EXPECT_EQ(t.policy.rate_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  EXPECT_EQ(t.policy.cap_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  // A group's own flag wins over --refuse, wherever it stands.
  t = take({"--rate-refusal", "rst", "--refuse", "silence"});
  EXPECT_EQ(t.policy.list_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  EXPECT_EQ(t.policy.rate_refusal(), v1::AdmissionPolicy::REFUSAL_RESET);
  t = take({"--list-refusal", "silence"});  // the others left to the server's defaults
  EXPECT_EQ(t.policy.list_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  EXPECT_EQ(t.policy.rate_refusal(), v1::AdmissionPolicy::REFUSAL_UNSPECIFIED);
  EXPECT_EQ(t.policy.cap_refusal(), v1::AdmissionPolicy::REFUSAL_UNSPECIFIED);
  EXPECT_EQ(admission_error({"--refuse", "drop"}), "--refuse must be rst or silence, not 'drop'");
  EXPECT_EQ(admission_error({"--cap-refusal", "reset"}),
            "--cap-refusal must be rst or silence, not 'reset'");
  EXPECT_EQ(admission_error({"--max-half-open"}), "--max-half-open needs a value");
}

TEST(CtlAdmissionArgs, AZeroCapIsStillAPolicyFlag) {
  // `listen ID --max-half-open 0` asks for a policy (an empty one), not for none.
  Taken t = take({"--max-half-open", "0"});
  EXPECT_TRUE(t.any);
  EXPECT_EQ(t.policy.ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace tapstack::ctl
