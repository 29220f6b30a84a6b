#include "stack/tcp/prefix_set.h"

#include <algorithm>

namespace tapstack::tcp {

PrefixSet::PrefixSet(const std::vector<IpPrefix>& prefixes, uint64_t seed) {
  for (const IpPrefix& p : prefixes) {
    auto& levels = levels_[static_cast<size_t>(p.address.family())];
    auto level = std::find_if(levels.begin(), levels.end(),
                              [&](const Level& l) { return l.length == p.length; });
    if (level == levels.end()) {
      level = levels.insert(
          levels.end(),
          Level{p.length, std::unordered_set<IpAddress, AddressHash>(0, AddressHash{seed})});
    }
    level->addresses.insert(p.address);
  }
  for (auto& levels : levels_) {
    std::sort(levels.begin(), levels.end(),
              [](const Level& a, const Level& b) { return a.length > b.length; });
  }
}

bool PrefixSet::contains(const IpAddress& a) const {
  for (const Level& level : levels_[static_cast<size_t>(a.family())]) {
    if (level.addresses.contains(masked(a, level.length))) return true;
  }
  return false;
}

}  // namespace tapstack::tcp
