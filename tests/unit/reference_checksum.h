// RFC 1071 done the slow, obvious way (16-bit words, end-around carry at every step), so that
// the header tests share nothing with checksum.cc's wide accumulator when they compute what a
// checksum should be.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::header_test {

// Returns the one's-complement sum, not its complement: a buffer that carries a correct checksum
// sums to 0xffff.
inline uint16_t ReferenceSum(std::span<const uint8_t> data, uint32_t sum = 0) {
  for (size_t i = 0; i < data.size(); i += 2) {
    uint32_t word = uint32_t{data[i]} << 8;
    if (i + 1 < data.size()) word |= data[i + 1];
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

}  // namespace tapstack::header_test
