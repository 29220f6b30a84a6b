#include "stack/random.h"

#include <sys/random.h>

#include <chrono>

namespace tapstack {

uint64_t Random::system_seed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed) {
    // getrandom only fails before the pool is initialised; the clock is the fallback.
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return seed;
}

}  // namespace tapstack
