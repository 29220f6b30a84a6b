// RACK (RFC 8985 §6) for one connection's send side: when each segment in flight was last
// sent, and from the most recently sent segment the peer delivered (RACK.xmit_ts, end_seq,
// rtt), which segments sent before it are lost: those not delivered within RACK.rtt plus a
// reordering window of their send time. With TLP's state (TLP.end_seq, §7) and which of the
// loss timers the connection's timer guards.
//
// The engine is sequence-based, so the record is of ranges, kept in sequence order: one entry
// per segment sent (a retransmission replaces the entries it covers), removed once delivered
// (cumulatively ACKed or SACKed). It exists only while data is in flight (Connection::rack),
// so it is bounded by the send buffer and idle connections hold none.
//
// Which segments are lost is not kept here: detect_loss reports them and the caller marks them
// in the scoreboard (SackScoreboard::mark_lost), the one place that says what is lost. Here a
// reported segment's send time becomes "never" (RFC 8985's INFINITE_TS), so it is reported
// once, until it is sent again.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>

#include "stack/clock.h"
#include "stack/header/tcp_options.h"

namespace tapstack::tcp {

// What the connection's timer guards while data is in flight (Linux's icsk_pending).
enum class FlightTimer : uint8_t {
  kRto,      // the retransmission timeout (RFC 6298)
  kProbe,    // TLP's probe timeout (RFC 8985 §7.2)
  kReorder,  // RACK's reordering timer (RFC 8985 §6.3): a segment may yet be found lost
};

class Rack {
 public:
  // A segment [begin, end) sent at `now`: new data, or a `retransmission`.
  void on_send(uint32_t begin, uint32_t end, Time now, bool retransmission);
  // An ACK: everything below `snd_una` and the segments wholly inside `blocks` (the ACK's
  // SACK blocks; those outside [snd_una, high_data) are ignored) are delivered. RACK_update
  // (§6.2 step 2) for each; `min_rtt` rules out samples from spurious retransmissions.
  void on_ack(uint32_t snd_una, std::span<const header::SackBlock> blocks, uint32_t high_data,
              Time now, Duration min_rtt);

  // RACK_detect_loss (§6.2 step 5): calls lost(begin, end) for each segment sent before
  // RACK.xmit_ts whose time plus RACK.rtt plus `reo_wnd` has passed; returns how long until the
  // last of the others sent before it would be (the reordering timer, as the RFC sets it: one
  // expiry judges them all), if there are any.
  template <class F>
  std::optional<Duration> detect_loss(Time now, Duration reo_wnd, F&& lost);

  // The RTT of the most recently sent delivered segment (RACK.rtt); nullopt before one.
  std::optional<Duration> rtt() const { return latest_ ? std::optional(rtt_) : std::nullopt; }
  // A segment was delivered below one delivered before it without being retransmitted
  // (RACK.reordering_seen, in this flight).
  bool reordering_seen() const { return reordering_seen_; }
  size_t segments() const { return sent_.size(); }

  // TLP.end_seq: SND.NXT when the probe went; no other probe until the ACK covers it.
  std::optional<uint32_t> tlp_end;
  FlightTimer timer = FlightTimer::kRto;
  // While the timer guards the probe or reordering, when the RTO it stands in for is due.
  Time rto_due{};

 private:
  static constexpr Time kNever = Time::max();  // the send time of a segment reported lost

  struct Sent {
    uint32_t begin;
    uint32_t end;
    Time sent;  // last transmission, or kNever once reported lost
    bool retransmitted;
  };
  // RACK_sent_after: `a` went after `b`: later, or as late and a retransmission where `b` was
  // not (it went after every first transmission it could be compared with), or higher.
  static bool sent_after(const Sent& a, const Sent& b);
  void delivered(const Sent& s, Time now, Duration min_rtt);

  std::deque<Sent> sent_;  // disjoint, ascending
  // The most recently sent delivered segment (RACK.xmit_ts, RACK.end_seq), once there is one.
  std::optional<Sent> latest_;
  Duration rtt_{};
  std::optional<uint32_t> fack_;  // the highest end of a delivered segment (RACK.fack)
  bool reordering_seen_ = false;
};

template <class F>
std::optional<Duration> Rack::detect_loss(Time now, Duration reo_wnd, F&& lost) {
  if (!latest_) return std::nullopt;
  std::optional<Duration> wait;
  for (Sent& s : sent_) {
    if (s.sent == kNever) continue;
    if (sent_after(s, *latest_)) {
      // First transmissions go in sequence order, and a retransmission only of what was sent
      // before it: past a first transmission sent after RACK.xmit_ts, everything was.
      if (!s.retransmitted) break;
      continue;
    }
    const Duration remaining = s.sent + rtt_ + reo_wnd - now;
    if (remaining <= Duration::zero()) {
      s.sent = kNever;
      lost(s.begin, s.end);
    } else if (!wait || remaining > *wait) {
      wait = remaining;  // RFC 8985: the latest of them, as its timer's one deadline
    }
  }
  return wait;
}

}  // namespace tapstack::tcp
