#include "stack/tcp/isn.h"

namespace tapstack::tcp {
namespace {

uint32_t ports(const FourTuple& tuple) {
  return uint32_t{tuple.local_port} << 16 | tuple.remote_port;
}

// The fourth hashed word keeps the two uses of the one key apart: knowing a connection's
// timestamp offset tells nothing about its ISN offset, and the other way round.
constexpr uint32_t kIsnDomain = 0;
constexpr uint32_t kTimestampDomain = 1;

}  // namespace

uint32_t IsnGenerator::isn(const FourTuple& tuple, Time now) const {
  // RFC 6528's M: a 4 µs clock, wrapping every 4.8 hours, so that successive incarnations of a
  // tuple get increasing ISNs and old duplicates fall outside the new window.
  const auto m = static_cast<uint32_t>(now / std::chrono::microseconds(4));
  const auto f = static_cast<uint32_t>(
      siphash_4u32(key_, tuple.local.value, tuple.remote.value, ports(tuple), kIsnDomain));
  return m + f;
}

uint32_t IsnGenerator::timestamp_offset(const FourTuple& tuple) const {
  return static_cast<uint32_t>(
      siphash_4u32(key_, tuple.local.value, tuple.remote.value, ports(tuple), kTimestampDomain));
}

}  // namespace tapstack::tcp
