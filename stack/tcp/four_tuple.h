// The identity of a TCP connection, seen from this stack: local and remote address and port.
#pragma once

#include <cstdint>
#include <functional>

#include "stack/header/addresses.h"

namespace tapstack::tcp {

struct FourTuple {
  Ipv4Address local;
  Ipv4Address remote;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  bool operator==(const FourTuple&) const = default;
};

// Hashes a tuple for the demux tables. The seed is random per process: remote addresses and
// ports are chosen by whoever sends us SYNs, so an unkeyed hash would let them pick collisions.
struct FourTupleHash {
  uint64_t seed = 0;
  size_t operator()(const FourTuple& t) const noexcept {
    uint64_t a = (uint64_t{t.local.value} << 32 | t.remote.value) ^ seed;
    uint64_t b = (uint64_t{t.local_port} << 16 | t.remote_port) ^ (seed >> 17);
    // Two rounds of a multiply-xorshift mix (from splitmix64).
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

}  // namespace tapstack::tcp
