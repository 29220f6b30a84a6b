// The Internet checksum (RFC 1071), in pieces so that a pseudo-header and a segment can be
// summed without copying them together.
#pragma once

#include <cstdint>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/ip_address.h"
#include "stack/header/ipv6_address.h"

namespace tapstack::header {

// Adds `bytes` (as big-endian 16-bit words, an odd tail padded with zero) to `sum`.
// Only the last piece of a checksum may have odd length.
uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes);

// Folds a running sum to 16 bits and complements it: the value that goes on the wire.
uint16_t checksum_finish(uint64_t sum);

// Sum of the IPv4 pseudo-header that TCP and UDP checksums cover.
inline uint64_t pseudo_header_sum(Ipv4Address src, Ipv4Address dst, uint8_t protocol,
                                  uint16_t length) {
  return uint64_t{src.value >> 16} + (src.value & 0xffff) + (dst.value >> 16) +
         (dst.value & 0xffff) + protocol + length;
}

// Sum of the IPv6 pseudo-header that upper-layer checksums cover (RFC 8200 §8.1): addresses, a
// 32-bit upper-layer length and the Next Header value of the upper layer.
inline uint64_t pseudo_header_sum(const Ipv6Address& src, const Ipv6Address& dst,
                                  uint8_t next_header, uint32_t length) {
  return checksum_add(checksum_add(0, src.bytes), dst.bytes) + (length >> 16) + (length & 0xffff) +
         next_header;
}

// Either family's pseudo-header; `src` and `dst` are of one family.
inline uint64_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, uint8_t protocol,
                                  uint32_t length) {
  if (src.is_v4()) {
    return pseudo_header_sum(src.v4(), dst.v4(), protocol, static_cast<uint16_t>(length));
  }
  return pseudo_header_sum(src.v6, dst.v6, protocol, length);
}

}  // namespace tapstack::header
