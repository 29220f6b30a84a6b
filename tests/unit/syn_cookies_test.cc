#include "stack/tcp/syn_cookies.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "stack/random.h"

namespace tapstack::tcp {
namespace {

constexpr Duration kTick = kCookieTick;
const FourTuple kTuple{Ipv4Address{0xc6120002}, Ipv4Address{0xc6120001}, 80, 40000};
const SynCookies::Secret kSecret{{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL},
                                 {0x1716151413121110ULL, 0x1f1e1d1c1b1a1918ULL}};
const SynCookies::Secret kNextSecret{{0x2726252423222120ULL, 0x2f2e2d2c2b2a2928ULL},
                                     {0x3736353433323130ULL, 0x3f3e3d3c3b3a3938ULL}};
constexpr uint32_t kPeerIsn = 0x89abcdef;
// Far past 256 ticks, so that the full counter (not just the 8 bits in the cookie) matters.
constexpr Time kStart = 1000 * kCookieTick;

TEST(SynCookies, EncodesTheLargestTableMssNotAbovePeers) {
  const SynCookies cookies(kSecret);
  const struct {
    uint16_t peer;
    uint16_t expected;
  } cases[] = {{0, 536},     {1, 536},     {535, 536},   {536, 536},   {1000, 536},  {1299, 536},
               {1300, 1300}, {1301, 1300}, {1439, 1300}, {1440, 1440}, {1452, 1440}, {1459, 1440},
               {1460, 1460}, {1461, 1460}, {9000, 1460}, {65535, 1460}};
  for (const auto& c : cases) {
    const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, c.peer, kStart);
    EXPECT_EQ(cookies.check_isn(kTuple, kPeerIsn, isn, kStart), c.expected) << "peer " << c.peer;
  }
}

// IPv6 cookies carry IPv6's MSS table (Linux's net/ipv6/syncookies.c: 1280 - 60 up to
// 9000 - 60), and are bound to every byte of both addresses.
TEST(SynCookies, Ipv6CookiesUseTheIpv6TableAndEveryAddressByte) {
  const SynCookies cookies(kSecret);
  const FourTuple v6{*Ipv6Address::parse("2001:db8::2"), *Ipv6Address::parse("2001:db8::1"), 80,
                     40000};
  const struct {
    uint16_t peer;
    uint16_t expected;
  } cases[] = {{536, 1220},  {1220, 1220}, {1419, 1220}, {1420, 1420}, {1439, 1420},
               {1440, 1440}, {8939, 1440}, {8940, 8940}, {65535, 8940}};
  for (const auto& c : cases) {
    const uint32_t isn = cookies.make_isn(v6, kPeerIsn, c.peer, kStart);
    EXPECT_EQ(cookies.check_isn(v6, kPeerIsn, isn, kStart), c.expected) << "peer " << c.peer;
  }
  const uint32_t isn = cookies.make_isn(v6, kPeerIsn, 1440, kStart);
  for (size_t byte = 0; byte < 16; ++byte) {
    FourTuple t = v6;
    t.local.v6.bytes[byte] ^= 1;
    EXPECT_FALSE(cookies.check_isn(t, kPeerIsn, isn, kStart)) << "local byte " << byte;
    t = v6;
    t.remote.v6.bytes[byte] ^= 1;
    EXPECT_FALSE(cookies.check_isn(t, kPeerIsn, isn, kStart)) << "remote byte " << byte;
  }
}

// What a SYN offered and what the listener should rebuild from the cookie ACK.
struct Syn {
  uint16_t mss;
  std::optional<uint8_t> window_scale;
  bool sack_permitted;
  bool timestamps;
};

// The listener's side of a cookie handshake: SYN-ACK out, then the final ACK echoing our ISN
// and (when timestamps were negotiated) our TSval.
std::optional<CookieOptions> handshake(const SynCookies& cookies, const Syn& syn, uint32_t ts_now,
                                       Time syn_at, Time ack_at) {
  const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, syn.mss, syn_at);
  const uint32_t tsval = SynCookies::encode_timestamp(ts_now, syn.window_scale, syn.sack_permitted);
  const uint32_t seg_ack = isn + 1;
  const uint32_t seg_seq = kPeerIsn + 1;
  const auto mss = cookies.check_isn(kTuple, seg_seq - 1, seg_ack - 1, ack_at);
  if (!mss) return std::nullopt;
  CookieOptions options;
  options.mss = *mss;
  if (syn.timestamps) SynCookies::decode_timestamp(tsval, options);
  return options;
}

TEST(SynCookies, RoundTripsEveryMssAndOptionCombination) {
  const SynCookies cookies(kSecret);
  const std::optional<uint8_t> scales[] = {std::nullopt, 0, 7, 14};
  for (uint16_t mss : kCookieMssTable) {
    for (auto ws : scales) {
      for (bool sack : {false, true}) {
        for (bool ts : {false, true}) {
          for (uint32_t ts_now : {0u, 5u, 63u, 64u, 1000u, 0x12345678u, 0xffffffffu}) {
            const auto got = handshake(cookies, {mss, ws, sack, ts}, ts_now, kStart, kStart);
            // Without timestamps there is nowhere to keep WS and SACK; they are lost, as in
            // Linux.
            const CookieOptions expected = ts ? CookieOptions{mss, ws, sack, true}
                                              : CookieOptions{mss, std::nullopt, false, false};
            EXPECT_EQ(got, expected) << "mss " << mss << " ws " << (ws ? int{*ws} : -1) << " sack "
                                     << sack << " ts " << ts << " ts_now " << ts_now;
          }
        }
      }
    }
  }
}

TEST(SynCookies, ClampsWindowScaleAboveFourteen) {
  const SynCookies cookies(kSecret);
  for (int ws : {15, 16, 255}) {
    const auto got =
        handshake(cookies, {1460, static_cast<uint8_t>(ws), true, true}, 1000, kStart, kStart);
    EXPECT_EQ(got, (CookieOptions{1460, 14, true, true})) << ws;
  }
}

TEST(SynCookies, ExpiresWhenTheCounterHasMovedTwice) {
  const SynCookies cookies(kSecret);
  const uint32_t made_at_start = cookies.make_isn(kTuple, kPeerIsn, 1460, kStart);
  auto check = [&](uint32_t isn, Time at) { return cookies.check_isn(kTuple, kPeerIsn, isn, at); };

  // Made at the first instant of count c: valid through count c + 1.
  EXPECT_TRUE(check(made_at_start, kStart));
  EXPECT_TRUE(check(made_at_start, kStart + kTick));
  EXPECT_TRUE(check(made_at_start, kStart + 2 * kTick - Duration{1}));
  EXPECT_FALSE(check(made_at_start, kStart + 2 * kTick));
  EXPECT_FALSE(check(made_at_start, kStart + 3 * kTick));
  // Only 8 bits of the counter travel; 256 and 257 ticks later they match again, and the hash
  // over the full counter is what rejects the cookie.
  EXPECT_FALSE(check(made_at_start, kStart + 256 * kTick));
  EXPECT_FALSE(check(made_at_start, kStart + 257 * kTick));
  // A cookie from the future (the clock went back a tick) is no good either.
  EXPECT_FALSE(check(made_at_start, kStart - Duration{1}));

  // Made at the last instant of count c: it lives only a little over one tick.
  const Time late = kStart + kTick - Duration{1};
  const uint32_t made_late = cookies.make_isn(kTuple, kPeerIsn, 1460, late);
  EXPECT_TRUE(check(made_late, late));
  EXPECT_TRUE(check(made_late, late + Duration{1}));
  EXPECT_TRUE(check(made_late, late + kTick));
  EXPECT_FALSE(check(made_late, late + kTick + Duration{1}));
}

TEST(SynCookies, WorksAtTheStartOfTime) {
  // count 0 and 1: the age computation must not underflow into acceptance or rejection.
  const SynCookies cookies(kSecret);
  const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, 1300, Time{0});
  EXPECT_EQ(cookies.check_isn(kTuple, kPeerIsn, isn, Time{0}), 1300);
  EXPECT_EQ(cookies.check_isn(kTuple, kPeerIsn, isn, kTick), 1300);
  EXPECT_FALSE(cookies.check_isn(kTuple, kPeerIsn, isn, 2 * kTick));
}

// The layout adds the MSS index to the hash rather than hashing it, exactly like Linux: an ISN
// or peer ISN off by less than 4 can decode to a neighbouring table entry. Nobody can forge a
// cookie that way (the peer could as well have offered another MSS), so the tests pin down
// that nothing else gets through.
std::optional<uint16_t> neighbour(uint32_t index, int64_t delta) {
  const int64_t shifted = int64_t{index} + delta;
  if (shifted < 0 || shifted >= static_cast<int64_t>(kCookieMssTable.size())) return std::nullopt;
  return kCookieMssTable[static_cast<size_t>(shifted)];
}

TEST(SynCookies, RejectsEveryFlippedBitExceptTheUnhashedMssIndex) {
  const SynCookies cookies(kSecret);
  for (uint32_t index = 0; index < kCookieMssTable.size(); ++index) {
    const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, kCookieMssTable[index], kStart);
    ASSERT_EQ(cookies.check_isn(kTuple, kPeerIsn, isn, kStart), kCookieMssTable[index]);
    for (int bit = 0; bit < 32; ++bit) {
      const uint32_t altered = isn ^ (uint32_t{1} << bit);
      const auto got = cookies.check_isn(kTuple, kPeerIsn, altered, kStart);
      if (bit >= 2) {
        EXPECT_FALSE(got) << "index " << index << " bit " << bit;
      } else {
        // A flip is +2^bit or -2^bit; it can only move the index within the table.
        const int64_t delta = (isn >> bit & 1) ? -(int64_t{1} << bit) : (int64_t{1} << bit);
        EXPECT_EQ(got, neighbour(index, delta)) << "index " << index << " bit " << bit;
      }
    }
  }
}

TEST(SynCookies, RejectsAnotherTuple) {
  const SynCookies cookies(kSecret);
  const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, 1460, kStart);
  auto check = [&](const FourTuple& t) { return cookies.check_isn(t, kPeerIsn, isn, kStart); };
  ASSERT_TRUE(check(kTuple));
  for (int bit = 0; bit < 32; ++bit) {
    FourTuple t = kTuple;
    t.local = Ipv4Address{t.local.v4().value ^ uint32_t{1} << bit};
    EXPECT_FALSE(check(t)) << "local address bit " << bit;
    t = kTuple;
    t.remote = Ipv4Address{t.remote.v4().value ^ uint32_t{1} << bit};
    EXPECT_FALSE(check(t)) << "remote address bit " << bit;
  }
  for (int bit = 0; bit < 16; ++bit) {
    FourTuple t = kTuple;
    t.local_port ^= static_cast<uint16_t>(1 << bit);
    EXPECT_FALSE(check(t)) << "local port bit " << bit;
    t = kTuple;
    t.remote_port ^= static_cast<uint16_t>(1 << bit);
    EXPECT_FALSE(check(t)) << "remote port bit " << bit;
  }
  EXPECT_FALSE(check({kTuple.remote, kTuple.local, kTuple.remote_port, kTuple.local_port}));
}

TEST(SynCookies, RejectsAnotherPeerIsn) {
  const SynCookies cookies(kSecret);
  for (uint32_t index = 0; index < kCookieMssTable.size(); ++index) {
    const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, kCookieMssTable[index], kStart);
    // Off by 1-3: at most a neighbouring MSS (see neighbour()).
    for (int64_t delta = -3; delta <= 3; ++delta) {
      if (delta == 0) continue;
      const auto peer = static_cast<uint32_t>(kPeerIsn + delta);
      EXPECT_EQ(cookies.check_isn(kTuple, peer, isn, kStart), neighbour(index, -delta))
          << "index " << index << " delta " << delta;
    }
    for (int bit = 2; bit < 32; ++bit) {
      const uint32_t peer = kPeerIsn ^ (uint32_t{1} << bit);
      EXPECT_FALSE(cookies.check_isn(kTuple, peer, isn, kStart))
          << "index " << index << " bit " << bit;
    }
  }
}

TEST(SynCookies, AcceptsNoneOfAMillionForgedAcks) {
  // A random ISN is valid with probability 2 (ages) x 4 (indices) / 2^32 = 1.9e-9, so about
  // 0.002 hits are expected in a million tries; with a fixed seed the count is exactly zero.
  const SynCookies cookies(kSecret);
  Random random(0x5eed);
  int accepted = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    const uint64_t r = random.next();
    const auto peer_isn = static_cast<uint32_t>(r);
    const auto isn = static_cast<uint32_t>(r >> 32);
    if (cookies.check_isn(kTuple, peer_isn, isn, kStart)) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

TEST(SynCookies, RotationKeepsOldCookiesForTheirLifetime) {
  SynCookies cookies(kSecret);
  const uint32_t old_isn = cookies.make_isn(kTuple, kPeerIsn, 1440, kStart);
  cookies.rotate(kNextSecret, kStart + seconds(30));
  auto check = [&](uint32_t isn, Time at) { return cookies.check_isn(kTuple, kPeerIsn, isn, at); };

  EXPECT_EQ(check(old_isn, kStart + seconds(30)), 1440);
  EXPECT_EQ(check(old_isn, kStart + kTick), 1440);
  EXPECT_EQ(check(old_isn, kStart + 2 * kTick - Duration{1}), 1440);
  EXPECT_FALSE(check(old_isn, kStart + 2 * kTick));
  EXPECT_FALSE(check(old_isn, kStart + seconds(30) + 2 * kTick));

  const uint32_t new_isn = cookies.make_isn(kTuple, kPeerIsn, 1300, kStart + seconds(40));
  // Made under the new secret, not the old one.
  EXPECT_NE(new_isn, SynCookies(kSecret).make_isn(kTuple, kPeerIsn, 1300, kStart + seconds(40)));
  EXPECT_EQ(check(new_isn, kStart + seconds(40)), 1300);
  EXPECT_EQ(check(new_isn, kStart + seconds(40) + kTick), 1300);
}

TEST(SynCookies, SecondRotationForgetsTheOldestSecret) {
  SynCookies cookies(kSecret);
  const uint32_t isn = cookies.make_isn(kTuple, kPeerIsn, 1460, kStart);
  cookies.rotate(kNextSecret, kStart + seconds(1));
  EXPECT_TRUE(cookies.check_isn(kTuple, kPeerIsn, isn, kStart + seconds(2)));
  cookies.rotate(SynCookies::Secret{{1, 2}, {3, 4}}, kStart + seconds(2));
  EXPECT_FALSE(cookies.check_isn(kTuple, kPeerIsn, isn, kStart + seconds(3)));
}

TEST(SynCookies, RejectsCookiesFromAnUnrelatedSecret) {
  const SynCookies cookies(kSecret);
  Random random(1996);
  for (int i = 0; i < 1000; ++i) {
    const SynCookies stranger({{random.next(), random.next()}, {random.next(), random.next()}});
    for (uint16_t mss : kCookieMssTable) {
      const uint32_t isn = stranger.make_isn(kTuple, kPeerIsn, mss, kStart);
      ASSERT_EQ(stranger.check_isn(kTuple, kPeerIsn, isn, kStart), mss);
      ASSERT_FALSE(cookies.check_isn(kTuple, kPeerIsn, isn, kStart)) << "secret " << i;
    }
  }
}

TEST(SynCookies, TimestampIsNeverAheadOfTheClock) {
  Random random(7323);
  auto check = [](uint32_t ts_now) {
    for (std::optional<uint8_t> ws : {std::optional<uint8_t>{}, std::optional<uint8_t>{0},
                                      std::optional<uint8_t>{7}, std::optional<uint8_t>{14}}) {
      for (bool sack : {false, true}) {
        const uint32_t ts = SynCookies::encode_timestamp(ts_now, ws, sack);
        const uint32_t options = (ws ? *ws : 0xFu) | (sack ? 0x10u : 0u);
        ASSERT_EQ(ts & 0x3F, options) << ts_now;
        // The high bits are ts_now's, or one step of 64 lower.
        const uint32_t behind = ts_now - ts;
        ASSERT_LT(behind, 64u) << ts_now;
        ASSERT_TRUE((ts & ~0x3Fu) == (ts_now & ~0x3Fu) || (ts & ~0x3Fu) == (ts_now & ~0x3Fu) - 64)
            << ts_now;
        // Unsigned "not above", as Linux has it with a 64-bit clock; only a 32-bit clock still
        // below 64 wraps, and that is still "before" in TCP's serial arithmetic.
        if (ts_now >= 64) {
          ASSERT_LE(ts, ts_now) << ts_now;
        }
      }
    }
  };
  for (uint32_t ts_now :
       {0u, 1u, 14u, 15u, 31u, 63u, 64u, 65u, 127u, 128u, 0xffffffc0u, 0xffffffefu, 0xffffffffu}) {
    check(ts_now);
  }
  for (int i = 0; i < 100'000; ++i) check(static_cast<uint32_t>(random.next()));
}

}  // namespace
}  // namespace tapstack::tcp
