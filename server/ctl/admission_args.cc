#include "server/ctl/admission_args.h"

#include <cmath>
#include <cstdlib>

namespace tapstack::ctl {
namespace {

// Every value of a repeatable flag, each split at commas.
std::vector<std::string> take_list(Args& args, std::string_view flag) {
  std::vector<std::string> items;
  while (auto value = args.take_option(flag)) {
    std::string_view rest = *value;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      if (item.empty())
        throw UsageError(std::string(flag) + " needs a prefix, not '" + *value + "'");
      items.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return items;
}

v1::AdmissionPolicy::Refusal parse_refusal(std::string_view flag, std::string_view text) {
  if (text == "rst") return v1::AdmissionPolicy::REFUSAL_RESET;
  if (text == "silence") return v1::AdmissionPolicy::REFUSAL_SILENCE;
  throw UsageError(std::string(flag) + " must be rst or silence, not '" + std::string(text) + "'");
}

uint32_t parse_u32(std::string_view what, std::string_view text) {
  const uint64_t v = parse_number(what, text);
  if (v > UINT32_MAX) throw UsageError(std::string(what) + " is at most 4294967295");
  return static_cast<uint32_t>(v);
}

// "RATE" or "RATE/BURST"; RATE a decimal number (fractions allowed).
void parse_syn_rate(std::string_view text, v1::AdmissionPolicy::SynRate& rate) {
  const size_t slash = text.find('/');
  const std::string number(text.substr(0, slash));
  char* end = nullptr;
  const double per_second = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !std::isfinite(per_second) || per_second < 0) {
    throw UsageError("--syn-rate must be RATE[/BURST] (100, 0.5, 100/20), not '" +
                     std::string(text) + "'");
  }
  rate.set_per_second(per_second);
  if (slash != std::string_view::npos) {
    rate.set_burst(parse_u32("--syn-rate BURST", text.substr(slash + 1)));
  } else {
    // A second's worth; the server refuses a rate of 0 whatever the burst.
    rate.set_burst(static_cast<uint32_t>(std::max(1.0, std::min(std::ceil(per_second), 4e9))));
  }
}

// "V4/V6", either side optional; a bare number is IPv4's.
void parse_source_prefix(std::string_view text, v1::AdmissionPolicy& policy) {
  const size_t slash = text.find('/');
  const std::string_view v4 = text.substr(0, slash);
  const std::string_view v6 =
      slash == std::string_view::npos ? std::string_view{} : text.substr(slash + 1);
  if (v4.empty() && v6.empty()) {
    throw UsageError("--source-prefix must be V4/V6 (24/64, /56, 28), not '" + std::string(text) +
                     "'");
  }
  if (!v4.empty()) {
    policy.mutable_ipv4_source_prefix()->set_value(parse_u32("--source-prefix IPv4 length", v4));
  }
  if (!v6.empty()) {
    policy.mutable_ipv6_source_prefix()->set_value(parse_u32("--source-prefix IPv6 length", v6));
  }
}

}  // namespace

bool take_admission_flags(Args& args, v1::AdmissionPolicy& policy) {
  bool any = false;
  auto option = [&](std::string_view flag) {
    auto v = args.take_option(flag);
    any = any || v.has_value();
    return v;
  };
  for (std::string& p : take_list(args, "--allow")) *policy.add_allow() = std::move(p);
  for (std::string& p : take_list(args, "--deny")) *policy.add_deny() = std::move(p);
  any = any || policy.allow_size() > 0 || policy.deny_size() > 0;
  if (auto v = option("--syn-rate")) parse_syn_rate(*v, *policy.mutable_syn_rate());
  if (auto v = option("--max-half-open"))
    policy.set_max_half_open(parse_u32("--max-half-open", *v));
  if (auto v = option("--max-connections")) {
    policy.set_max_connections(parse_u32("--max-connections", *v));
  }
  if (auto v = option("--source-prefix")) parse_source_prefix(*v, policy);
  if (auto v = option("--source-table")) {
    policy.mutable_source_table_size()->set_value(parse_u32("--source-table", *v));
  }
  if (auto v = option("--refuse")) {
    const auto r = parse_refusal("--refuse", *v);
    policy.set_list_refusal(r);
    policy.set_rate_refusal(r);
    policy.set_cap_refusal(r);
  }
  if (auto v = option("--list-refusal"))
    policy.set_list_refusal(parse_refusal("--list-refusal", *v));
  if (auto v = option("--rate-refusal"))
    policy.set_rate_refusal(parse_refusal("--rate-refusal", *v));
  if (auto v = option("--cap-refusal")) policy.set_cap_refusal(parse_refusal("--cap-refusal", *v));
  return any;
}

}  // namespace tapstack::ctl
