// The retransmission timeout of one connection (RFC 6298): a smoothed RTT and its variation
// from measured round trips, and the timeout derived from them.
//
// The caller's contract, which keeps the samples honest:
// - With timestamps (RFC 7323 RTTM) it samples now - TSecr's send time, but only for ACKs that
//   advance SND.UNA (an ACK of nothing new, or a window update, may echo an old TSval).
// - Without timestamps it times one segment at a time and never samples data that was
//   retransmitted (Karn's algorithm): an ACK of a retransmission cannot say which copy arrived.
// - It counts the timeouts in a row and arms backed_off(count); only an ACK of data that was
//   not retransmitted ends the backoff (RFC 6298 §5.5-5.7), and that ACK is also the first
//   sample Karn allows.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/clock.h"

namespace tapstack::tcp {

class RttEstimator {
 public:
  static constexpr Duration kDefaultInitialRto = seconds(1);  // RFC 6298 §2.1
  // Linux's TCP_RTO_MIN rather than RFC 6298's 1 s: a 1 s floor stalls every lost tail on a
  // LAN for a second, and the peers we talk to are Linux-like.
  static constexpr Duration kMinRto = milliseconds(200);
  static constexpr Duration kMaxRto = seconds(120);  // TCP_RTO_MAX; RFC 6298 §2.5 asks >= 60 s
  // RFC 6298 §5.7 (Linux's TCP_TIMEOUT_FALLBACK): the first RTO of data after a handshake that
  // needed a retransmission and gave no sample.
  static constexpr Duration kFallbackRto = seconds(3);
  static constexpr Duration kGranularity = milliseconds(1);  // G: our timers tick in ms

  explicit RttEstimator(Duration initial_rto = kDefaultInitialRto);

  // One measured round trip. Negative samples (a clock or a peer gone wrong) are ignored.
  void sample(Duration rtt);
  // A round trip measured some other way (RACK's, from a SACKed segment): it counts towards
  // min_rtt only, as SRTT keeps to the caller's contract above.
  void observe(Duration rtt);

  bool has_sample() const { return has_sample_; }
  // Zero until the first sample.
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  // The smallest round trip sampled or observed (RFC 8985's RACK.min_RTT; a lifetime minimum,
  // not Linux's windowed one: connections here are short next to its 5 minutes).
  std::optional<Duration> min_rtt() const { return min_rtt_; }
  // The timeout for the next transmission, clamped to [kMinRto, kMaxRto].
  Duration rto() const { return rto_; }
  // The timeout after `retransmits` expiries in a row: doubled each time (RFC 6298 §5.5),
  // capped at kMaxRto.
  Duration backed_off(uint32_t retransmits) const;

 private:
  Duration rto_;
  Duration srtt_{};
  Duration rttvar_{};
  std::optional<Duration> min_rtt_;
  bool has_sample_ = false;
};

}  // namespace tapstack::tcp
