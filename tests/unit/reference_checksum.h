// RFC 1071 done the slow, obvious way (16-bit words, end-around carry at every step), so that
// the header tests share nothing with checksum.cc's wide accumulator when they compute what a
// checksum should be.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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

// The sum of an IPv6 packet's upper layer under an explicitly built pseudo-header (RFC 8200
// §8.1: source, destination, 32-bit length, three zero bytes, next header), for a packet whose
// upper layer follows the fixed header directly. 0xffff when its checksum is right.
inline uint16_t ReferenceIpv6Sum(std::span<const uint8_t> packet) {
  const size_t length = packet.size() - 40;
  std::vector<uint8_t> buffer(packet.begin() + 8, packet.begin() + 40);  // source, destination
  buffer.insert(buffer.end(), {0, 0, static_cast<uint8_t>(length >> 8),
                               static_cast<uint8_t>(length), 0, 0, 0, packet[6]});
  buffer.insert(buffer.end(), packet.begin() + 40, packet.end());
  return ReferenceSum(buffer);
}

}  // namespace tapstack::header_test
