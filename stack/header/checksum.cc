#include "stack/header/checksum.h"

#include "stack/header/bytes.h"

namespace tapstack::header {

uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  // Four words at a time; the 64-bit accumulator cannot overflow for any frame size.
  for (; n >= 8; p += 8, n -= 8) sum += uint64_t{load32(p)} + load32(p + 4);
  for (; n >= 2; p += 2, n -= 2) sum += load16(p);
  if (n == 1) sum += uint64_t{p[0]} << 8;
  return sum;
}

uint16_t checksum_finish(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace tapstack::header
