// Admission policies between the API and the engine: defaults for what the request leaves
// unset, every value back out as set, and INVALID_ARGUMENT naming the field and its value.
#include <gtest/gtest.h>

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

std::string error_of(const v1::AdmissionPolicy& p) {
  auto policy = from_proto(p, "policy");
  if (policy.is_ok()) {
    ADD_FAILURE() << "taken: " << p.ShortDebugString();
    return "";
  }
  EXPECT_EQ(policy.status().code, ErrorCode::kInvalidArgument);
  return policy.status().message;
}

TEST(ProtoConvertAdmission, UnsetFieldsAreTheDefaults) {
  auto policy = from_proto(v1::AdmissionPolicy{}, "admission");
  ASSERT_TRUE(policy.is_ok()) << policy.status().message;
  EXPECT_EQ(*policy, tcp::AdmissionPolicy{});
  EXPECT_EQ(policy->ipv4_source_prefix, 24);
  EXPECT_EQ(policy->ipv6_source_prefix, 64);
  EXPECT_EQ(policy->list_refusal, tcp::Refusal::kReset);
  EXPECT_EQ(policy->rate_refusal, tcp::Refusal::kSilence);
  EXPECT_EQ(policy->cap_refusal, tcp::Refusal::kReset);
  EXPECT_FALSE(policy->syn_rate);
}

TEST(ProtoConvertAdmission, RoundTripShowsEveryValue) {
  v1::AdmissionPolicy in;
  in.add_allow("198.18.0.0/15");
  in.add_allow("2001:DB8::/32");  // shown as RFC 5952 text
  in.add_deny("198.18.0.7/32");
  in.set_list_refusal(v1::AdmissionPolicy::REFUSAL_SILENCE);
  in.mutable_ipv4_source_prefix()->set_value(28);
  in.mutable_ipv6_source_prefix()->set_value(56);
  in.mutable_syn_rate()->set_per_second(0.5);
  in.mutable_syn_rate()->set_burst(3);
  in.set_rate_refusal(v1::AdmissionPolicy::REFUSAL_RESET);
  in.set_max_half_open(4);
  in.set_max_connections(32);
  in.set_cap_refusal(v1::AdmissionPolicy::REFUSAL_SILENCE);
  in.mutable_source_table_size()->set_value(100);
  auto policy = from_proto(in, "policy");
  ASSERT_TRUE(policy.is_ok()) << policy.status().message;
  ASSERT_TRUE(policy->syn_rate);
  EXPECT_DOUBLE_EQ(policy->syn_rate->per_second, 0.5);
  EXPECT_EQ(policy->syn_rate->burst, 3u);
  EXPECT_EQ(policy->source_table_size, 100u);

  v1::AdmissionPolicy out;
  to_proto(*policy, &out);
  v1::AdmissionPolicy expected = in;
  expected.set_allow(1, "2001:db8::/32");
  EXPECT_EQ(out.SerializeAsString(), expected.SerializeAsString()) << out.ShortDebugString();

  // Unspecified refusals come back as the defaults they stood for.
  v1::AdmissionPolicy defaults;
  to_proto(*from_proto(v1::AdmissionPolicy{}, "policy"), &defaults);
  EXPECT_EQ(defaults.list_refusal(), v1::AdmissionPolicy::REFUSAL_RESET);
  EXPECT_EQ(defaults.rate_refusal(), v1::AdmissionPolicy::REFUSAL_SILENCE);
  EXPECT_EQ(defaults.source_table_size().value(), 16384u);
  EXPECT_FALSE(defaults.has_syn_rate());
}

TEST(ProtoConvertAdmission, BadPrefixesNameTheFieldAndValue) {
  for (const char* bad : {"198.18.0/24", "198.18.0.1/15", "198.18.0.0/33", "2001:db8::/129",
                          "198.18.0.0", "example.com/8", "198.18.0.0/-1", ""}) {
    v1::AdmissionPolicy p;
    p.add_allow("198.18.0.0/15");
    p.add_deny(bad);
    std::string message = error_of(p);
    EXPECT_NE(message.find("policy.deny[0]"), std::string::npos) << message;
    EXPECT_NE(message.find("'" + std::string(bad) + "'"), std::string::npos) << message;
  }
  v1::AdmissionPolicy p;
  p.add_allow("198.18.0.0/15");
  p.add_allow("2001:db8::1/32");
  EXPECT_NE(error_of(p).find("policy.allow[1]"), std::string::npos);
}

TEST(ProtoConvertAdmission, ValuesOutOfRange) {
  v1::AdmissionPolicy p;
  p.mutable_ipv4_source_prefix()->set_value(300);  // past uint8_t: refused before validate()
  EXPECT_EQ(error_of(p), "policy.ipv4_source_prefix must be 1..32, not 300");
  p.mutable_ipv4_source_prefix()->set_value(33);
  EXPECT_NE(error_of(p).find("33"), std::string::npos);
  p.Clear();
  p.mutable_ipv6_source_prefix()->set_value(129);
  EXPECT_NE(error_of(p).find("129"), std::string::npos);
  p.Clear();
  // The rest is validate()'s to say, with the value.
  p.mutable_syn_rate()->set_burst(1);
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    p.mutable_syn_rate()->set_per_second(bad);
    EXPECT_NE(error_of(p).find("SYN rate"), std::string::npos) << bad;
  }
  p.mutable_syn_rate()->set_per_second(10);
  p.mutable_syn_rate()->set_burst(0);
  EXPECT_NE(error_of(p).find("burst"), std::string::npos);
  p.Clear();
  p.add_allow("198.18.0.0/24");
  p.add_deny("198.18.0.0/16");
  EXPECT_EQ(error_of(p),
            "admission policy: allow prefix 198.18.0.0/24 is inside deny prefix 198.18.0.0/16: "
            "it would allow nothing");
  p.Clear();
  p.mutable_source_table_size()->set_value(0);
  EXPECT_NE(error_of(p).find("source table size 0"), std::string::npos);
  p.Clear();
  p.set_cap_refusal(static_cast<v1::AdmissionPolicy::Refusal>(9));
  EXPECT_EQ(error_of(p), "policy.cap_refusal must be REFUSAL_RESET or REFUSAL_SILENCE, not 9");
}

TEST(ProtoConvertAdmission, CountersEveryReasonInOrder) {
  tcp::AdmissionCounters c;
  c.admitted = 10;
  c.refused[static_cast<size_t>(tcp::AdmissionReason::kRateLimited)] = 3;
  c.sources = 2;
  c.sources_evicted = 1;
  v1::AdmissionCounters out;
  to_proto(c, &out);
  EXPECT_EQ(out.admitted(), 10u);
  ASSERT_EQ(out.refused_size(), static_cast<int>(tcp::kAdmissionReasonCount));
  const char* const reasons[] = {"denied",        "not_allowed",    "rate_limited",
                                 "half_open_cap", "connection_cap", "source_table_full"};
  for (int i = 0; i < out.refused_size(); ++i) {
    EXPECT_EQ(out.refused(i).reason(), reasons[i]);
    EXPECT_EQ(out.refused(i).syns(), i == 2 ? 3u : 0u);
  }
  EXPECT_EQ(out.sources(), 2u);
  EXPECT_EQ(out.sources_evicted(), 1u);
}

}  // namespace
}  // namespace tapstack::server
