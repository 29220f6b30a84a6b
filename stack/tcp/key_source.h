// Where the engine's secrets come from: the ISN key, the SYN-cookie secrets and each rotation,
// the demux hash seed and the seed of the non-secret generator that picks ephemeral ports.
// In production each key is drawn fresh from the kernel's CSPRNG (getrandom), so nothing a
// peer can observe (ephemeral ports, ISNs, cookies) tells it anything about another key: a
// seeded xoshiro behind all of them would give every key away to whoever reconstructs its state
// from a few ports. Tests use seeded(): keys are SipHash of a counter under a key made from the
// seed, deterministic and still independent of each other; several engines of one stack share
// keyed() copies.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/tcp/siphash.h"

namespace tapstack::tcp {

class KeySource {
 public:
  static KeySource system() { return KeySource(std::nullopt); }
  static KeySource seeded(uint64_t seed) {
    return KeySource(SipKey{seed, seed ^ 0x7461707374616b6bULL});
  }
  // Several engines of one stack (one per TAP queue) that must hold the same secrets: each gets
  // a copy, and the copies give the same keys in the same order, SipHash of a counter under
  // `key` (drawn from system()), as long as every engine draws alike (they do: at construction
  // and at each rotation, which the daemon makes in every loop).
  static KeySource keyed(const SipKey& key) { return KeySource(key); }

  uint64_t next_u64();
  SipKey next_key() { return {next_u64(), next_u64()}; }

 private:
  explicit KeySource(std::optional<SipKey> prf_key) : prf_key_(prf_key) {}

  std::optional<SipKey> prf_key_;  // seeded and keyed modes
  uint64_t counter_ = 0;
};

}  // namespace tapstack::tcp
