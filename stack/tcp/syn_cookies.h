// SYN cookies (Linux net/ipv4/syncookies.c layout) keyed with SipHash-2-4:
//   ISN = H0(tuple) + peer_isn + (count << 24) + ((H1(tuple, count) + mss_index) & 0xFFFFFF)
// where count ticks once a minute and a cookie is accepted while count_now - count < 2.
// When the SYN carried timestamps, window scale and SACK-permitted ride in the low bits of
// our TSval, so connections completed from a cookie keep them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "stack/clock.h"
#include "stack/tcp/four_tuple.h"
#include "stack/tcp/siphash.h"

namespace tapstack::tcp {

enum class SynCookieMode : uint8_t {
  kNever,   // never send cookies; SYNs are dropped when the SYN-RCVD table is full
  kAuto,    // send cookies only while the listener's SYN-RCVD table is full (default)
  kAlways,  // answer every SYN with a cookie, keeping no half-open state at all
};

// The MSS values a cookie can carry, per family (Linux's msstab in net/ipv4/syncookies.c and
// net/ipv6/syncookies.c: IPv6's from the minimum MTU of 1280 to jumbo frames, less 60).
inline constexpr std::array<uint16_t, 4> kCookieMssTable = {536, 1300, 1440, 1460};
inline constexpr std::array<uint16_t, 4> kCookieMssTableIpv6 = {1280 - 60, 1480 - 60, 1500 - 60,
                                                                9000 - 60};
inline constexpr const std::array<uint16_t, 4>& cookie_mss_table(IpFamily family) {
  return family == IpFamily::kIpv4 ? kCookieMssTable : kCookieMssTableIpv6;
}
inline constexpr Duration kCookieTick = std::chrono::minutes(1);

// What the cookie ACK gives back of the SYN's options.
struct CookieOptions {
  uint16_t mss = 0;                     // from the MSS table, <= the peer's MSS
  std::optional<uint8_t> window_scale;  // the peer's shift, when it offered one
  bool sack_permitted = false;
  bool timestamps = false;
  bool operator==(const CookieOptions&) const = default;
};

class SynCookies {
 public:
  // Two 128-bit secrets, as Linux keeps: one keys H0, the other H1.
  struct Secret {
    SipKey h0;
    SipKey h1;
  };

  explicit SynCookies(const Secret& secret) : current_(secret) {}

  // The ISN of a cookie SYN-ACK. `peer_mss` is the MSS the SYN offered (536 if none);
  // the largest table entry not above it is encoded.
  uint32_t make_isn(const FourTuple& tuple, uint32_t peer_isn, uint16_t peer_mss, Time now) const;

  // Checks the cookie `isn` (= SEG.ACK - 1 of the final ACK) for `peer_isn` (= SEG.SEQ - 1).
  // Returns the encoded MSS if valid under the current secret, or under the previous one
  // within its lifetime.
  std::optional<uint16_t> check_isn(const FourTuple& tuple, uint32_t peer_isn, uint32_t isn,
                                    Time now) const;

  // Replaces the secret; cookies issued under the old one stay valid for their lifetime.
  void rotate(const Secret& next, Time now);

  const Secret& current() const { return current_; }
  // The secret before the last rotate(), while it still checks cookies (until
  // previous_valid_until()).
  const std::optional<Secret>& previous() const { return previous_; }
  Time previous_valid_until() const { return previous_retired_at_ + kPreviousLifetime; }

  // The TSval to send in a cookie SYN-ACK: `ts_now` with its low 6 bits carrying the peer's
  // window scale (0xF = none) and SACK-permitted, lowered rather than sent from the future.
  static uint32_t encode_timestamp(uint32_t ts_now, std::optional<uint8_t> window_scale,
                                   bool sack_permitted);
  // Reads window scale and SACK-permitted back from the TSecr of the final ACK.
  static void decode_timestamp(uint32_t ts_echo, CookieOptions& options);

  static uint32_t count_at(Time now) { return static_cast<uint32_t>(now / kCookieTick); }

 private:
  // A cookie issued just before rotate() lives at most two more ticks.
  static constexpr Duration kPreviousLifetime = 2 * kCookieTick;

  Secret current_;
  std::optional<Secret> previous_;
  Time previous_retired_at_{};
};

}  // namespace tapstack::tcp
