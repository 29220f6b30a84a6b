// tapstack.v1.AdmissionPolicy <-> tcp::AdmissionPolicy, and the admission counters.
#include <limits>

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

Status invalid(const std::string& field, const std::string& message) {
  return error(ErrorCode::kInvalidArgument, field + " " + message);
}

// Unspecified is the rule group's default; a number the proto does not define is an error.
Result<tcp::Refusal> refusal(v1::AdmissionPolicy::Refusal r, tcp::Refusal if_unspecified,
                             const std::string& field) {
  switch (r) {
    case v1::AdmissionPolicy::REFUSAL_UNSPECIFIED:
      return if_unspecified;
    case v1::AdmissionPolicy::REFUSAL_RESET:
      return tcp::Refusal::kReset;
    case v1::AdmissionPolicy::REFUSAL_SILENCE:
      return tcp::Refusal::kSilence;
    default:
      return invalid(field, "must be REFUSAL_RESET or REFUSAL_SILENCE, not " + std::to_string(r));
  }
}

v1::AdmissionPolicy::Refusal to_proto(tcp::Refusal r) {
  return r == tcp::Refusal::kReset ? v1::AdmissionPolicy::REFUSAL_RESET
                                   : v1::AdmissionPolicy::REFUSAL_SILENCE;
}

Result<std::vector<tcp::IpPrefix>> prefixes(
    const google::protobuf::RepeatedPtrField<std::string>& texts, const std::string& field) {
  std::vector<tcp::IpPrefix> out;
  out.reserve(static_cast<size_t>(texts.size()));
  for (int i = 0; i < texts.size(); ++i) {
    auto prefix = tcp::IpPrefix::parse(texts[i]);
    if (!prefix) {
      return invalid(field + "[" + std::to_string(i) + "]",
                     "must be an address prefix, ADDRESS/LENGTH with no bits set past the length "
                     "(198.18.0.0/15, 2001:db8::/32), not '" +
                         texts[i] + "'");
    }
    out.push_back(*prefix);
  }
  return out;
}

// A source prefix length travels as a UInt32Value; one that does not even fit the engine's
// uint8_t is refused here, with the range validate() would name.
Result<uint8_t> prefix_length(const google::protobuf::UInt32Value& v, const std::string& field,
                              uint32_t max) {
  if (v.value() > std::numeric_limits<uint8_t>::max()) {
    return invalid(field,
                   "must be 1.." + std::to_string(max) + ", not " + std::to_string(v.value()));
  }
  return static_cast<uint8_t>(v.value());
}

}  // namespace

Result<tcp::AdmissionPolicy> from_proto(const v1::AdmissionPolicy& p, const std::string& field) {
  tcp::AdmissionPolicy policy;
  auto allow = prefixes(p.allow(), field + ".allow");
  if (!allow.is_ok()) return allow.status();
  policy.allow = std::move(allow.value());
  auto deny = prefixes(p.deny(), field + ".deny");
  if (!deny.is_ok()) return deny.status();
  policy.deny = std::move(deny.value());

  auto list = refusal(p.list_refusal(), tcp::Refusal::kReset, field + ".list_refusal");
  auto rate = refusal(p.rate_refusal(), tcp::Refusal::kSilence, field + ".rate_refusal");
  auto cap = refusal(p.cap_refusal(), tcp::Refusal::kReset, field + ".cap_refusal");
  for (const auto* r : {&list, &rate, &cap}) {
    if (!r->is_ok()) return r->status();
  }
  policy.list_refusal = *list;
  policy.rate_refusal = *rate;
  policy.cap_refusal = *cap;

  if (p.has_ipv4_source_prefix()) {
    auto v4 = prefix_length(p.ipv4_source_prefix(), field + ".ipv4_source_prefix", 32);
    if (!v4.is_ok()) return v4.status();
    policy.ipv4_source_prefix = *v4;
  }
  if (p.has_ipv6_source_prefix()) {
    auto v6 = prefix_length(p.ipv6_source_prefix(), field + ".ipv6_source_prefix", 128);
    if (!v6.is_ok()) return v6.status();
    policy.ipv6_source_prefix = *v6;
  }
  if (p.has_syn_rate()) {
    policy.syn_rate = tcp::AdmissionPolicy::SynRate{.per_second = p.syn_rate().per_second(),
                                                    .burst = p.syn_rate().burst()};
  }
  policy.max_half_open = p.max_half_open();
  policy.max_connections = p.max_connections();
  if (p.has_source_table_size()) policy.source_table_size = p.source_table_size().value();

  // Its message names the value and what is wrong with it ("admission policy: allow prefix
  // 198.18.0.0/24 is inside deny prefix 198.18.0.0/16: it would allow nothing").
  if (Status s = policy.validate(); !s.is_ok()) return s;
  return policy;
}

void to_proto(const tcp::AdmissionPolicy& policy, v1::AdmissionPolicy* out) {
  for (const tcp::IpPrefix& p : policy.allow) out->add_allow(p.to_string());
  for (const tcp::IpPrefix& p : policy.deny) out->add_deny(p.to_string());
  out->set_list_refusal(to_proto(policy.list_refusal));
  out->mutable_ipv4_source_prefix()->set_value(policy.ipv4_source_prefix);
  out->mutable_ipv6_source_prefix()->set_value(policy.ipv6_source_prefix);
  if (policy.syn_rate) {
    out->mutable_syn_rate()->set_per_second(policy.syn_rate->per_second);
    out->mutable_syn_rate()->set_burst(policy.syn_rate->burst);
  }
  out->set_rate_refusal(to_proto(policy.rate_refusal));
  out->set_max_half_open(policy.max_half_open);
  out->set_max_connections(policy.max_connections);
  out->set_cap_refusal(to_proto(policy.cap_refusal));
  out->mutable_source_table_size()->set_value(policy.source_table_size);
}

void to_proto(const tcp::AdmissionCounters& counters, v1::AdmissionCounters* out) {
  out->set_admitted(counters.admitted);
  for (size_t i = 0; i < tcp::kAdmissionReasonCount; ++i) {
    v1::AdmissionRefusals* r = out->add_refused();
    r->set_reason(std::string(tcp::to_string(static_cast<tcp::AdmissionReason>(i))));
    r->set_syns(counters.refused[i]);
  }
  out->set_sources(counters.sources);
  out->set_sources_evicted(counters.sources_evicted);
}

}  // namespace tapstack::server
