// Hashes an address for the tables keyed by source (admission's prefix sets and per-source
// table). Keyed by a per-process seed, as FourTupleHash is: the sources are whoever sends SYNs,
// and an unkeyed hash would let them choose addresses that collide into one bucket.
#pragma once

#include <cstdint>
#include <cstring>

#include "stack/header/ip_address.h"

namespace tapstack::tcp {

struct AddressHash {
  uint64_t seed = 0;
  size_t operator()(const IpAddress& a) const noexcept {
    uint64_t high = 0;
    uint64_t low = 0;
    std::memcpy(&high, a.v6.bytes.data(), 8);
    std::memcpy(&low, a.v6.bytes.data() + 8, 8);
    // The address words in turn through a multiply-xorshift round (splitmix64's finaliser).
    uint64_t h = (seed ^ high) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    h = (h ^ low ^ (seed >> 23)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
  }
};

}  // namespace tapstack::tcp
