#include "stack/tcp/prefix_set.h"

#include <algorithm>

#include "stack/header/bytes.h"

namespace tapstack::tcp {
namespace {

uint64_t load64(const uint8_t* p) {
  return (uint64_t{header::load32(p)} << 32) | header::load32(p + 4);
}

// The last address of `p`: its first with every bit past the length set (in IPv6 bits, so an
// IPv4 prefix of length n covers 96 + n).
std::pair<uint64_t, uint64_t> past_length_ones(const IpPrefix& p) {
  const unsigned bits = p.address.is_v4() ? 96u + p.length : p.length;
  const auto ones = [](unsigned host_bits) {
    return host_bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << host_bits) - 1;
  };
  const uint64_t high = bits >= 64 ? 0 : ones(64 - bits);
  const uint64_t low = bits >= 128 ? 0 : ones(128 - std::max(bits, 64u));
  return {high, low};
}

}  // namespace

PrefixSet::Number PrefixSet::number(const IpAddress& a) {
  return {load64(a.v6.bytes.data()), load64(a.v6.bytes.data() + 8)};
}

PrefixSet::PrefixSet(const std::vector<IpPrefix>& prefixes) {
  for (const IpPrefix& p : prefixes) {
    const Number first = number(p.address);  // no bits past the length (validate)
    const auto [high, low] = past_length_ones(p);
    ranges_[static_cast<size_t>(p.address.family())].push_back(
        {first, {first.first | high, first.second | low}});
  }
  for (auto& ranges : ranges_) {
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.first < b.first; });
    // Merge ranges that overlap (one prefix inside another), so the search needs look at one.
    std::vector<Range> merged;
    for (const Range& r : ranges) {
      if (!merged.empty() && r.first <= merged.back().last) {
        merged.back().last = std::max(merged.back().last, r.last);
      } else {
        merged.push_back(r);
      }
    }
    ranges = std::move(merged);
  }
}

bool PrefixSet::contains(const IpAddress& a) const {
  const auto& ranges = ranges_[static_cast<size_t>(a.family())];
  const Number n = number(a);
  // The last range that starts at or before n is the only one that can hold it.
  auto after = std::upper_bound(ranges.begin(), ranges.end(), n,
                                [](const Number& v, const Range& r) { return v < r.first; });
  return after != ranges.begin() && n <= std::prev(after)->last;
}

}  // namespace tapstack::tcp
