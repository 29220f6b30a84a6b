// Randomness for choices that need not be secret (ephemeral ports). Keys never come from here:
// see tcp::KeySource.
#pragma once

#include <cstdint>

namespace tapstack {

// xoshiro256** seeded through splitmix64: fast and good enough for non-cryptographic choices.
// Its state can be reconstructed from a few outputs, which is why no key is drawn from it.
class Random {
 public:
  explicit Random(uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  // A seed from the kernel's random pool.
  static uint64_t system_seed();

  uint64_t next() {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

}  // namespace tapstack
