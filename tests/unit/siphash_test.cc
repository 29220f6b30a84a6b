#include "stack/tcp/siphash.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "stack/random.h"
#include "stack/tcp/isn.h"

namespace tapstack::tcp {
namespace {

// The reference key 00 01 .. 0f read as two little-endian words.
constexpr SipKey kReferenceKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

uint64_t from_le(const std::array<uint8_t, 8>& b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

// Entries of vectors_sip64 from the SipHash reference implementation (veorq/SipHash, vectors.h):
// the output bytes for key 00..0f and message 00 01 .. (length-1). The lengths cover an empty
// message, every tail length 1-7 with and without a whole word before it, word boundaries, and
// the longest vector.
struct Vector {
  size_t length;
  std::array<uint8_t, 8> out;
};
constexpr Vector kVectors[] = {
    {0, {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72}},
    {1, {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74}},
    {2, {0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d}},
    {3, {0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85}},
    {4, {0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf}},
    {5, {0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18}},
    {6, {0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb}},
    {7, {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab}},
    {8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
    {9, {0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e}},
    {10, {0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a}},
    {11, {0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4}},
    {12, {0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75}},
    {13, {0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14}},
    {14, {0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7}},
    {15, {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}},
    {16, {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f}},
    {17, {0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69}},
    {31, {0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32}},
    {32, {0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71}},
    {63, {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95}},
};

TEST(SipHash, MatchesReferenceVectors) {
  std::vector<uint8_t> message;
  for (const Vector& v : kVectors) {
    message.clear();
    for (size_t i = 0; i < v.length; ++i) message.push_back(static_cast<uint8_t>(i));
    EXPECT_EQ(siphash24(kReferenceKey, message), from_le(v.out)) << "length " << v.length;
  }
}

std::array<uint8_t, 16> le_bytes(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  std::array<uint8_t, 16> bytes{};
  const uint32_t words[] = {a, b, c, d};
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 4; ++i) bytes[4 * w + i] = static_cast<uint8_t>(words[w] >> (8 * i));
  }
  return bytes;
}

TEST(SipHash, FourWordsEqualsBytesLittleEndian) {
  // The reference vector for length 16 is the words 0x03020100 .. 0x0f0e0d0c.
  EXPECT_EQ(siphash_4u32(kReferenceKey, 0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c),
            from_le(kVectors[16].out));
  Random random(6528);
  for (int i = 0; i < 1000; ++i) {
    const SipKey key{random.next(), random.next()};
    const auto a = static_cast<uint32_t>(random.next());
    const auto b = static_cast<uint32_t>(random.next());
    const auto c = static_cast<uint32_t>(random.next());
    const auto d = static_cast<uint32_t>(random.next());
    ASSERT_EQ(siphash_4u32(key, a, b, c, d), siphash24(key, le_bytes(a, b, c, d)))
        << "iteration " << i;
  }
}

const FourTuple kTuple{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120001}, 80, 40000};
constexpr SipKey kIsnKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

TEST(Isn, ChangesWithEveryTupleField) {
  const IsnGenerator generator(kIsnKey);
  const Time now = seconds(1000);
  std::set<uint32_t> seen = {generator.isn(kTuple, now)};
  FourTuple t = kTuple;
  t.local = Ipv4Address{t.local.v4().value ^ 1};
  seen.insert(generator.isn(t, now));
  t = kTuple;
  t.remote = Ipv4Address{t.remote.v4().value ^ 1};
  seen.insert(generator.isn(t, now));
  t = kTuple;
  t.local_port ^= 1;
  seen.insert(generator.isn(t, now));
  t = kTuple;
  t.remote_port ^= 1;
  seen.insert(generator.isn(t, now));
  // Swapping the ends must not give the same ISN either: the hash is not symmetric.
  seen.insert(
      generator.isn({kTuple.remote, kTuple.local, kTuple.remote_port, kTuple.local_port}, now));
  EXPECT_EQ(seen.size(), 6u);
}

// IPv6 tuples hash every address byte (RFC 6528's F over the whole tuple), and an IPv4 tuple
// and the same addresses written IPv4-mapped are one tuple, with one ISN.
TEST(Isn, IpV6TuplesChangeWithEveryAddressByte) {
  const IsnGenerator generator(kIsnKey);
  const Time now = seconds(1000);
  const FourTuple v6{*Ipv6Address::parse("2001:db8::2"), *Ipv6Address::parse("2001:db8::1"), 80,
                     40000};
  std::set<uint32_t> seen = {generator.isn(v6, now)};
  for (size_t byte = 0; byte < 16; ++byte) {
    FourTuple t = v6;
    t.local.v6.bytes[byte] ^= 0x10;
    seen.insert(generator.isn(t, now));
    t = v6;
    t.remote.v6.bytes[byte] ^= 0x10;
    seen.insert(generator.isn(t, now));
  }
  EXPECT_EQ(seen.size(), 33u);
  const FourTuple mapped{*IpAddress::parse("::ffff:198.18.0.2"),
                         *IpAddress::parse("::ffff:198.18.0.1"), 80, 40000};
  const FourTuple v4{*Ipv4Address::parse("198.18.0.2"), *Ipv4Address::parse("198.18.0.1"), 80,
                     40000};
  EXPECT_EQ(generator.isn(mapped, now), generator.isn(v4, now));
}

TEST(Isn, AdvancesOnePerFourMicroseconds) {
  const IsnGenerator generator(kIsnKey);
  const Time t0 = seconds(1000);  // a whole number of 4 µs units
  const uint32_t base = generator.isn(kTuple, t0);
  EXPECT_EQ(generator.isn(kTuple, t0 + std::chrono::microseconds(3)), base);
  EXPECT_EQ(generator.isn(kTuple, t0 + std::chrono::nanoseconds(3999)), base);
  EXPECT_EQ(generator.isn(kTuple, t0 + std::chrono::microseconds(4)), base + 1);
  EXPECT_EQ(generator.isn(kTuple, t0 + milliseconds(1)), base + 250);
  EXPECT_EQ(generator.isn(kTuple, t0 + seconds(1)), base + 250'000);
  // M wraps modulo 2^32 units of 4 µs (about 4.77 hours).
  EXPECT_EQ(generator.isn(kTuple, t0 + std::chrono::microseconds(4) * (uint64_t{1} << 32)), base);
}

TEST(Isn, DiffersPerKey) {
  const IsnGenerator a(kIsnKey);
  const IsnGenerator b(SipKey{kIsnKey.k0, kIsnKey.k1 ^ 1});
  const IsnGenerator c(SipKey{kIsnKey.k0 ^ (uint64_t{1} << 63), kIsnKey.k1});
  const Time now = seconds(1000);
  EXPECT_NE(a.isn(kTuple, now), b.isn(kTuple, now));
  EXPECT_NE(a.isn(kTuple, now), c.isn(kTuple, now));
  EXPECT_NE(b.isn(kTuple, now), c.isn(kTuple, now));
  EXPECT_NE(a.timestamp_offset(kTuple), b.timestamp_offset(kTuple));
}

TEST(Isn, TimestampOffsetIsStablePerTupleAndUnlikeTheIsnOffset) {
  const IsnGenerator generator(kIsnKey);
  const uint32_t offset = generator.timestamp_offset(kTuple);
  EXPECT_EQ(generator.timestamp_offset(kTuple), offset);
  // At time 0 the ISN is F alone; the timestamp offset must be a different function.
  EXPECT_NE(generator.isn(kTuple, Time{0}), offset);
  FourTuple other = kTuple;
  other.remote_port ^= 1;
  EXPECT_NE(generator.timestamp_offset(other), offset);
}

}  // namespace
}  // namespace tapstack::tcp
