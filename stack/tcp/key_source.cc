#include "stack/tcp/key_source.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace tapstack::tcp {

uint64_t KeySource::next_u64() {
  if (prf_key_) {
    uint64_t n = counter_++;
    return siphash_4u32(*prf_key_, static_cast<uint32_t>(n), static_cast<uint32_t>(n >> 32), 0, 0);
  }
  uint64_t value = 0;
  // getrandom blocks only until the kernel's pool is first initialised, and a request of 8
  // bytes is never cut short; anything else means no secret can be had, and a stack with
  // guessable ISNs and cookies must not start.
  while (getrandom(&value, sizeof value, 0) != sizeof value) {
    if (errno != EINTR) {
      std::perror("getrandom");
      std::abort();
    }
  }
  return value;
}

}  // namespace tapstack::tcp
