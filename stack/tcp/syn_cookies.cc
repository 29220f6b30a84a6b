#include "stack/tcp/syn_cookies.h"

#include <algorithm>
#include <cstring>

#include "stack/header/bytes.h"

namespace tapstack::tcp {
namespace {

// The top 8 bits of a cookie carry the minute counter, the low 24 bits the keyed hash plus the
// MSS index (Linux's COOKIEBITS and COOKIEMASK).
constexpr int kCookieBits = 24;
constexpr uint32_t kCookieMask = (uint32_t{1} << kCookieBits) - 1;
// A cookie is accepted while count_now - count < kMaxAge, i.e. for one to two ticks.
constexpr uint32_t kMaxAge = 2;

// Low bits of a cookie SYN-ACK's TSval (Linux's TS_OPT_*): 0-3 window scale, 4 SACK, 5 ECN.
constexpr uint32_t kTsBits = 6;
constexpr uint32_t kTsMask = (uint32_t{1} << kTsBits) - 1;
constexpr uint32_t kTsWscaleMask = 0xF;  // also the "no window scale" value, not a valid shift
constexpr uint32_t kTsSack = 1u << 4;
// RFC 7323 2.3: a shift above 14 is used as 14.
constexpr uint8_t kMaxWindowScale = 14;

// Peer first, as Linux hashes (saddr, daddr, sport, dport) of the incoming segment. IPv4 in
// four words, as the kernel cookie path computes too (link/bpf/cookie_path.bpf.c); IPv6 as
// Linux's net/ipv6/syncookies.c lays it out: both addresses, the count, then the ports.
uint32_t cookie_hash(const SipKey& key, const FourTuple& tuple, uint32_t count) {
  const uint32_t ports = uint32_t{tuple.remote_port} << 16 | tuple.local_port;
  if (tuple.family() == IpFamily::kIpv4) {
    return static_cast<uint32_t>(
        siphash_4u32(key, tuple.remote.v4().value, tuple.local.v4().value, ports, count));
  }
  uint8_t bytes[40];
  tuple.remote.v6.write(bytes);
  tuple.local.v6.write(bytes + 16);
  std::memcpy(bytes + 32, &count, 4);  // a host-order u32, as Linux's struct holds it
  header::store16(bytes + 36, tuple.remote_port);
  header::store16(bytes + 38, tuple.local_port);
  return static_cast<uint32_t>(siphash24(key, bytes));
}

uint32_t make_cookie(const SynCookies::Secret& secret, const FourTuple& tuple, uint32_t peer_isn,
                     uint32_t count, uint32_t mss_index) {
  return cookie_hash(secret.h0, tuple, 0) + peer_isn + (count << kCookieBits) +
         ((cookie_hash(secret.h1, tuple, count) + mss_index) & kCookieMask);
}

// The MSS index the cookie carries, or nullopt if it is not one of ours or too old.
std::optional<uint32_t> check_cookie(const SynCookies::Secret& secret, const FourTuple& tuple,
                                     uint32_t peer_isn, uint32_t cookie, uint32_t count_now) {
  cookie -= cookie_hash(secret.h0, tuple, 0) + peer_isn;
  // Only the low 8 bits of the counter travel, so the age is taken modulo 256; a cookie 256
  // ticks old looks fresh here but fails the H1 check below, which uses the full counter.
  const uint32_t age = (count_now - (cookie >> kCookieBits)) & (~uint32_t{0} >> kCookieBits);
  if (age >= kMaxAge) return std::nullopt;
  const uint32_t mss_index =
      (cookie - cookie_hash(secret.h1, tuple, count_now - age)) & kCookieMask;
  if (mss_index >= kCookieMssTable.size()) return std::nullopt;  // both tables are this long
  return mss_index;
}

}  // namespace

uint32_t SynCookies::make_isn(const FourTuple& tuple, uint32_t peer_isn, uint16_t peer_mss,
                              Time now) const {
  // The table is sorted: take the last entry that fits, or the first when none does.
  const auto& table = cookie_mss_table(tuple.family());
  uint32_t mss_index = table.size() - 1;
  while (mss_index > 0 && table[mss_index] > peer_mss) --mss_index;
  return make_cookie(current_, tuple, peer_isn, count_at(now), mss_index);
}

std::optional<uint16_t> SynCookies::check_isn(const FourTuple& tuple, uint32_t peer_isn,
                                              uint32_t isn, Time now) const {
  const uint32_t count_now = count_at(now);
  auto mss_index = check_cookie(current_, tuple, peer_isn, isn, count_now);
  if (!mss_index && previous_ && now < previous_valid_until()) {
    mss_index = check_cookie(*previous_, tuple, peer_isn, isn, count_now);
  }
  if (!mss_index) return std::nullopt;
  return cookie_mss_table(tuple.family())[*mss_index];
}

void SynCookies::rotate(const Secret& next, Time now) {
  previous_ = current_;
  previous_retired_at_ = now;
  current_ = next;
}

uint32_t SynCookies::encode_timestamp(uint32_t ts_now, std::optional<uint8_t> window_scale,
                                      bool sack_permitted) {
  uint32_t options = window_scale ? std::min(*window_scale, kMaxWindowScale) : kTsWscaleMask;
  if (sack_permitted) options |= kTsSack;
  uint32_t ts = (ts_now & ~kTsMask) | options;
  // Our later segments carry the plain clock, so this TSval must not be ahead of it (PAWS
  // would then drop them). For ts_now < 64 this wraps, which is still "before" in TCP's serial
  // arithmetic.
  if (ts > ts_now) ts -= kTsMask + 1;
  return ts;
}

void SynCookies::decode_timestamp(uint32_t ts_echo, CookieOptions& options) {
  const uint32_t wscale = ts_echo & kTsWscaleMask;
  // encode_timestamp never stores a shift above 14, so every other value is the peer's shift.
  options.window_scale =
      wscale == kTsWscaleMask ? std::nullopt : std::optional<uint8_t>(static_cast<uint8_t>(wscale));
  options.sack_permitted = (ts_echo & kTsSack) != 0;
  options.timestamps = true;
}

}  // namespace tapstack::tcp
