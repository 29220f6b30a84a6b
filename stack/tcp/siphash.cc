#include "stack/tcp/siphash.h"

#include <bit>
#include <cstddef>

namespace tapstack::tcp {
namespace {

// The state after keying, with the constants "somepseudorandomlygeneratedbytes".
struct SipState {
  uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& key)
      : v0(key.k0 ^ 0x736f6d6570736575ULL),
        v1(key.k1 ^ 0x646f72616e646f6dULL),
        v2(key.k0 ^ 0x6c7967656e657261ULL),
        v3(key.k1 ^ 0x7465646279746573ULL) {}

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // Two compression rounds per 8-byte word: the "2" of SipHash-2-4.
  void compress(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }

  // Four finalisation rounds: the "4".
  uint64_t finish() {
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

// Byte-wise so it is correct for any alignment and host order; compilers turn it into one load.
uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

uint64_t siphash24(const SipKey& key, std::span<const uint8_t> bytes) {
  SipState s(key);
  const size_t whole = bytes.size() & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) s.compress(load_le64(bytes.data() + i));
  // The last word holds the remaining 0-7 bytes and the length mod 256 in its top byte.
  uint64_t last = uint64_t{bytes.size() & 0xff} << 56;
  for (size_t i = whole; i < bytes.size(); ++i) last |= uint64_t{bytes[i]} << (8 * (i - whole));
  s.compress(last);
  return s.finish();
}

uint64_t siphash_4u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  // 16 bytes make two whole words and a last word carrying only the length.
  SipState s(key);
  s.compress(uint64_t{b} << 32 | a);
  s.compress(uint64_t{d} << 32 | c);
  s.compress(uint64_t{16} << 56);
  return s.finish();
}

}  // namespace tapstack::tcp
