#include "stack/tcp/admission_policy.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "stack/header/number_text.h"

namespace tapstack::tcp {
namespace {

// Bits of the 128-bit form before a prefix of `length` in `family` starts counting: an IPv4
// address sits past the 96 bits of ::ffff:0:0/96.
unsigned mapped_length(IpFamily family, uint8_t length) {
  return family == IpFamily::kIpv4 ? 96u + length : length;
}

bool bits_equal(const IpAddress& a, const IpAddress& b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (!std::equal(a.v6.bytes.begin(), a.v6.bytes.begin() + whole, b.v6.bytes.begin())) {
    return false;
  }
  if (bits % 8 == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return ((a.v6.bytes[whole] ^ b.v6.bytes[whole]) & mask) == 0;
}

// Ok, or why `p` is no prefix: a length past its family's bits, or bits set past the length.
std::optional<std::string> prefix_fault(const IpPrefix& p) {
  const uint8_t max = max_prefix_length(p.address.family());
  if (p.length > max) {
    return p.address.to_string() + "/" + std::to_string(p.length) + ": length past " +
           std::to_string(max);
  }
  if (masked(p.address, p.length) != p.address) {
    return p.to_string() + " has bits set past its length (" +
           masked(p.address, p.length).to_string() + "/" + std::to_string(p.length) + "?)";
  }
  return std::nullopt;
}

Status invalid(std::string message) {
  return error(ErrorCode::kInvalidArgument, "admission policy: " + std::move(message));
}

// The first fault in one list: a bad prefix or one listed twice.
std::optional<std::string> list_fault(const std::vector<IpPrefix>& list, std::string_view name) {
  for (const IpPrefix& p : list) {
    if (auto fault = prefix_fault(p)) return std::string(name) + " prefix " + *fault;
  }
  std::vector<IpPrefix> sorted = list;
  auto key = [](const IpPrefix& p) { return std::tie(p.address, p.length); };
  std::sort(sorted.begin(), sorted.end(),
            [&](const IpPrefix& a, const IpPrefix& b) { return key(a) < key(b); });
  auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice != sorted.end()) {
    return std::string(name) + " prefix " + twice->to_string() + " is listed twice";
  }
  return std::nullopt;
}

}  // namespace

IpAddress masked(const IpAddress& a, uint8_t length) {
  IpAddress out = a;
  const unsigned bits = std::min(mapped_length(a.family(), length), 128u);
  for (unsigned i = 0; i < 16; ++i) {
    if (bits >= (i + 1) * 8) continue;
    const unsigned keep = bits > i * 8 ? bits - i * 8 : 0;
    out.v6.bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return out;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view address_text = text.substr(0, slash);
  auto address = IpAddress::parse(address_text);
  if (!address) return std::nullopt;
  // "::ffff:198.18.0.0/120" would be an IPv4 prefix in IPv6 text: IPv4 is written as IPv4.
  const bool v6_text = address_text.find(':') != std::string_view::npos;
  if (v6_text && address->is_v4()) return std::nullopt;
  auto length = parse_decimal(text.substr(slash + 1), max_prefix_length(address->family()));
  if (!length) return std::nullopt;
  IpPrefix p{*address, static_cast<uint8_t>(*length)};
  if (masked(p.address, p.length) != p.address) return std::nullopt;
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == address.family() &&
         bits_equal(a, address, mapped_length(address.family(), length));
}

bool IpPrefix::covers(const IpPrefix& other) const {
  return other.address.family() == address.family() && other.length >= length &&
         contains(other.address);
}

std::string IpPrefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

std::string_view to_string(AdmissionReason reason) {
  switch (reason) {
    case AdmissionReason::kDenied:
      return "denied";
    case AdmissionReason::kNotAllowed:
      return "not_allowed";
    case AdmissionReason::kRateLimited:
      return "rate_limited";
    case AdmissionReason::kHalfOpenCap:
      return "half_open_cap";
    case AdmissionReason::kConnectionCap:
      return "connection_cap";
    case AdmissionReason::kSourceTableFull:
      return "source_table_full";
  }
  return "unknown";
}

Status AdmissionPolicy::validate() const {
  if (allow.size() + deny.size() > kMaxPrefixes) {
    return invalid(std::to_string(allow.size() + deny.size()) + " prefixes; at most " +
                   std::to_string(kMaxPrefixes) + " (allow and deny together)");
  }
  if (auto fault = list_fault(allow, "allow")) return invalid(*fault);
  if (auto fault = list_fault(deny, "deny")) return invalid(*fault);
  for (const IpPrefix& a : allow) {
    for (const IpPrefix& d : deny) {
      if (d.covers(a)) {
        return invalid(a == d ? "prefix " + a.to_string() + " is both allowed and denied"
                              : "allow prefix " + a.to_string() + " is inside deny prefix " +
                                    d.to_string() + ": it would allow nothing");
      }
    }
  }
  if (ipv4_source_prefix < 1 || ipv4_source_prefix > 32) {
    return invalid("IPv4 source prefix length " + std::to_string(ipv4_source_prefix) +
                   " is not 1..32");
  }
  if (ipv6_source_prefix < 1 || ipv6_source_prefix > 128) {
    return invalid("IPv6 source prefix length " + std::to_string(ipv6_source_prefix) +
                   " is not 1..128");
  }
  if (syn_rate) {
    if (!std::isfinite(syn_rate->per_second) || syn_rate->per_second <= 0 ||
        syn_rate->per_second > kMaxSynRate) {
      return invalid("SYN rate " + std::to_string(syn_rate->per_second) +
                     " a second is not a number in (0, 1e9]");
    }
    if (syn_rate->burst == 0) return invalid("SYN burst must be at least 1");
  }
  if (source_table_size < 1 || source_table_size > kMaxSourceTableSize) {
    return invalid("source table size " + std::to_string(source_table_size) + " is not 1.." +
                   std::to_string(kMaxSourceTableSize));
  }
  return Status::ok();
}

}  // namespace tapstack::tcp
