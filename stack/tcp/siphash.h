// SipHash-2-4 (Aumasson & Bernstein), the keyed hash behind ISNs and SYN cookies, as in Linux.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack::tcp {

struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  bool operator==(const SipKey&) const = default;
};

// SipHash-2-4 of arbitrary bytes (reference algorithm; checked against the paper's vectors).
uint64_t siphash24(const SipKey& key, std::span<const uint8_t> bytes);

// SipHash-2-4 of four 32-bit words laid out little-endian, like Linux's siphash_4u32(); the hot
// path uses this form so that no byte buffer is assembled.
uint64_t siphash_4u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c, uint32_t d);

}  // namespace tapstack::tcp
