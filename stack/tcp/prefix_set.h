// A set of address prefixes that answers "is this address in any of them?" by a binary search
// over the disjoint address ranges they cover, so an allow or deny list of a thousand prefixes
// of any mix of lengths costs a SYN about ten comparisons (a hash set per prefix length costs
// one masked lookup per distinct length: over a hundred for an imported IPv6 list).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "stack/tcp/admission_policy.h"

namespace tapstack::tcp {

class PrefixSet {
 public:
  PrefixSet() = default;
  // `prefixes` are valid (AdmissionPolicy::validate). A prefix matches addresses of its own
  // family only: ::/0 takes no IPv4 client.
  explicit PrefixSet(const std::vector<IpPrefix>& prefixes);

  bool empty() const { return ranges_[0].empty() && ranges_[1].empty(); }
  bool contains(const IpAddress& a) const;

 private:
  // An address as a 128-bit number, high word first, so that pairs compare as addresses do.
  using Number = std::pair<uint64_t, uint64_t>;
  struct Range {
    Number first;
    Number last;
  };
  static Number number(const IpAddress& a);
  std::vector<Range> ranges_[2];  // by IpFamily: sorted and disjoint
};

}  // namespace tapstack::tcp
