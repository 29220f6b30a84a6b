// The identity of a TCP connection, seen from this stack: local and remote address and port.
// Both addresses are of one family (an IPv4 peer of a dual-stack listener is IPv4 throughout).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "stack/header/icmp.h"
#include "stack/header/ip_address.h"

namespace tapstack::tcp {

struct FourTuple {
  IpAddress local;
  IpAddress remote;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  bool operator==(const FourTuple&) const = default;
  IpFamily family() const { return remote.family(); }
  // The tuple of a segment we sent, as an ICMP error quotes it.
  static FourTuple sent(const header::QuotedTcp& segment) {
    return {segment.source, segment.destination, segment.source_port, segment.destination_port};
  }
};

// Hashes a tuple for the demux tables. The seed is random per process: remote addresses and
// ports are chosen by whoever sends us SYNs, so an unkeyed hash would let them pick collisions.
struct FourTupleHash {
  uint64_t seed = 0;
  size_t operator()(const FourTuple& t) const noexcept {
    return t.family() == IpFamily::kIpv4 ? ipv4(t) : ipv6(t);
  }

 private:
  static uint64_t finish(uint64_t h) {
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
  }
  // Two rounds of a multiply-xorshift mix (from splitmix64). The kernel cookie path computes
  // exactly this (tuple_hash in link/bpf/cookie_path.bpf.c) for its live-tuple slots.
  uint64_t ipv4(const FourTuple& t) const {
    uint64_t a = (uint64_t{t.local.v4().value} << 32 | t.remote.v4().value) ^ seed;
    uint64_t b = (uint64_t{t.local_port} << 16 | t.remote_port) ^ (seed >> 17);
    return finish((a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL);
  }
  // The four address words in turn through the same round, the ports first.
  uint64_t ipv6(const FourTuple& t) const {
    uint64_t words[4];
    std::memcpy(words, t.local.v6.bytes.data(), 16);
    std::memcpy(words + 2, t.remote.v6.bytes.data(), 16);
    uint64_t h = seed ^ (uint64_t{t.local_port} << 16 | t.remote_port);
    for (uint64_t w : words) {
      h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
      h ^= h >> 31;
    }
    return finish(h);
  }
};

}  // namespace tapstack::tcp
