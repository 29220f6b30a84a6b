// RACK-TLP (RFC 8985) on connections that negotiated SACK: losses found by time rather than by
// counting. RACK judges each segment by when it went: one sent before a segment the peer
// delivered, and not delivered itself within RACK.rtt plus a reordering window, is lost. It
// finds what DupThresh cannot: a lost retransmission, or a loss with fewer than three segments
// SACKed above it (an answer lost before its FIN). TLP sends a probe when a tail goes
// unacknowledged for about two round trips, so that its ACK (SACKing the probe) lets RACK
// find the loss instead of the RTO.
//
// DupThresh stays (RFC 8985 §3.5 allows both): the scoreboard's IsLost() is lost by either,
// and NextSeg() retransmits both. RACK reports to the scoreboard, which is the one record of
// what is lost.
#include <algorithm>

#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

void Tcp::record_sent(Connection& c, uint32_t begin, uint32_t end, bool retransmission) {
  if (!c.options.sack_permitted) return;  // RACK needs SACK to see what arrived out of order
  if (!c.rack) c.rack.emplace();
  c.rack->on_send(begin, end, now_, retransmission);
}

std::optional<Duration> Tcp::rack_on_ack(Connection& c, const Segment& seg) {
  if (!c.rack) return std::nullopt;
  Rack& rack = *c.rack;
  const std::span<const SackBlock> blocks =
      c.options.sack_permitted ? seg.options.sack() : std::span<const SackBlock>{};
  rack.on_ack(c.snd_una, blocks, c.snd_nxt, now_, c.rtt.min_rtt().value_or(Duration::zero()));
  if (auto rtt = rack.rtt()) c.rtt.observe(*rtt);
  if (rack.tlp_end && seq_ge(c.snd_una, *rack.tlp_end)) rack.tlp_end.reset();  // §7.4
  return rack_detect_loss(c);
}

std::optional<Duration> Tcp::rack_detect_loss(Connection& c) {
  bool lost = false;
  const std::optional<Duration> wait =
      c.rack->detect_loss(now_, reorder_window(c), [&](uint32_t begin, uint32_t end) {
        scoreboard(c).mark_lost(begin, end);
        stats_.rack_lost_segments.add();
        lost = true;
      });
  if (lost && !c.recover) enter_recovery(c);
  return wait;
}

Duration Tcp::reorder_window(const Connection& c) const {
  const std::optional<Duration> min_rtt = c.rtt.min_rtt();
  if (!min_rtt) return Duration::zero();
  // RFC 8985 §6.2 step 4: until the peer was seen to reorder, none in recovery (fast or after
  // a timeout) or once DupThresh segments are SACKed: losses are then likely, reordering not.
  const bool recovering = c.recover || c.retransmits > 0;
  const bool dup_thresh =
      c.scoreboard && c.scoreboard->sacked_bytes() >= SackScoreboard::kDupThresh * send_mss(c);
  if (!c.rack->reordering_seen() && (recovering || dup_thresh)) return Duration::zero();
  // Quarters of the minimum RTT, as many as D-SACKs have asked for, never above SRTT.
  const Duration window = c.reorder_scale.multiplier() * *min_rtt / 4;
  return c.rtt.has_sample() ? std::min(window, c.rtt.srtt()) : window;
}

void Tcp::arm_loss_timer(Connection& c, std::optional<Duration> reorder_wait) {
  if (!c.rack || c.snd_una == c.snd_nxt) return;
  if (reorder_wait) {
    arm_flight_timer(c, FlightTimer::kReorder, now_ + *reorder_wait);
  } else if (probe_allowed(c)) {
    arm_flight_timer(c, FlightTimer::kProbe, now_ + probe_timeout(c));
  } else if (c.rack->timer != FlightTimer::kRto) {
    arm_flight_timer(c, FlightTimer::kRto, {});
  }
}

bool Tcp::probe_allowed(const Connection& c) const {
  // RFC 8985 §7.2: SRTT is known (else the PTO would be no better a guess than the RTO), not
  // in recovery (a timeout's go-back-N included), and one probe per flight.
  return c.rack && c.rtt.has_sample() && !c.recover && c.retransmits == 0 &&
         c.rtx_next == c.snd_nxt && !c.rack->tlp_end;
}

Duration Tcp::probe_timeout(const Connection& c) const {
  // RFC 8985 §7.2: two round trips; with one segment in flight the peer may delay its ACK, so
  // the worst-case delayed ACK is added, 200 ms as the RFC and Linux (TCP_DELACK_MAX, then
  // tcp_rto_min) take it: a Linux peer holds an ACK for up to 40 ms on a LAN but up to 200 ms
  // when its RTT estimate is larger, and a probe that races the ACK is a wasted segment.
  // Else two timer ticks, as Linux's TCP_TIMEOUT_MIN, so that a tiny SRTT is not no time.
  const Duration allowance =
      c.rack->segments() == 1 ? kDelayedAckAllowance : 2 * RttEstimator::kGranularity;
  return 2 * c.rtt.srtt() + allowance;
}

Time Tcp::rto_due(const Connection& c) const {
  return c.rack && c.rack->timer != FlightTimer::kRto ? c.rack->rto_due : c.deadline();
}

void Tcp::arm_flight_timer(Connection& c, FlightTimer what, Time deadline) {
  Rack& rack = *c.rack;
  const Time rto = rto_due(c);
  rack.timer = what;
  if (what == FlightTimer::kRto) {
    timers_.arm(c, rto);
    return;
  }
  rack.rto_due = rto;
  timers_.arm(c, std::min(deadline, rto));  // RFC 8985 §7.2: the PTO never outlasts the RTO
}

void Tcp::flight_timer(Connection& c) {
  switch (c.rack ? c.rack->timer : FlightTimer::kRto) {
    case FlightTimer::kRto:
      retransmission_timeout(c);
      return;
    case FlightTimer::kProbe:
      loss_probe(c);
      return;
    case FlightTimer::kReorder:
      reorder_timeout(c);
      return;
  }
}

void Tcp::reorder_timeout(Connection& c) {
  // RFC 8985 §6.3: the segments RACK waited on are judged again, now that time has passed.
  stats_.rack_reorder_timeouts.add();
  const std::optional<Duration> wait = rack_detect_loss(c);
  transmit(c);
  arm_loss_timer(c, wait);
}

void Tcp::loss_probe(Connection& c) {
  // RFC 8985 §7.3: new data if the peer's window takes it (cwnd does not hold a probe back),
  // else the last segment again.
  stats_.tlp_probes_sent.add();
  if (!send_new(c, c.snd_una + c.snd_wnd, true)) {
    const uint32_t data_end = fin_sent(c) ? c.write_seq : c.snd_nxt;
    const uint32_t last =
        std::min<uint32_t>(static_cast<uint32_t>(send_mss(c)), data_end - c.snd_una);
    retransmit(c, data_end - last, c.snd_nxt);
    c.reorder_scale.on_probe(data_end - last, c.snd_nxt);
  }
  c.rack->tlp_end = c.snd_nxt;
  // §7.3: the RTO follows the probe, restarted: if the probe's ACK does not come, the tail is
  // lost beyond what a probe repairs.
  arm_rto(c);
}

}  // namespace tapstack::tcp
