// A set of address prefixes that answers "is this address in any of them?" with one hash lookup
// per distinct prefix length of the address's family, not a scan of every prefix: an allow or
// deny list of a thousand prefixes costs a SYN a few lookups.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "stack/tcp/address_hash.h"
#include "stack/tcp/admission_policy.h"

namespace tapstack::tcp {

class PrefixSet {
 public:
  PrefixSet() = default;
  // `prefixes` are valid (AdmissionPolicy::validate); `seed` keys the hash.
  PrefixSet(const std::vector<IpPrefix>& prefixes, uint64_t seed);

  bool empty() const { return levels_[0].empty() && levels_[1].empty(); }
  bool contains(const IpAddress& a) const;

 private:
  // The prefixes of one length, as their (masked) addresses.
  struct Level {
    uint8_t length = 0;
    std::unordered_set<IpAddress, AddressHash> addresses;
  };
  std::vector<Level> levels_[2];  // by IpFamily, longest first
};

}  // namespace tapstack::tcp
