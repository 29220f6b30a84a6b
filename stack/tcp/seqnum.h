// Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
#pragma once

#include <cstdint>

namespace tapstack::tcp {

inline bool seq_lt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
inline bool seq_le(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) <= 0;
}
inline bool seq_gt(uint32_t a, uint32_t b) {
  return seq_lt(b, a);
}
inline bool seq_ge(uint32_t a, uint32_t b) {
  return seq_le(b, a);
}
// begin <= x < end, in sequence space.
inline bool seq_in_range(uint32_t x, uint32_t begin, uint32_t end) {
  return x - begin < end - begin;
}

}  // namespace tapstack::tcp
