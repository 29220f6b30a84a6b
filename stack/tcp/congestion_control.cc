#include "stack/tcp/congestion_control.h"

#include <algorithm>

#include "stack/tcp/cubic.h"
#include "stack/tcp/newreno.h"

namespace tapstack::tcp {

std::string_view to_string(CongestionControlKind kind) {
  switch (kind) {
    case CongestionControlKind::kCubic:
      return "cubic";
    case CongestionControlKind::kNewReno:
      return "newreno";
  }
  return "?";
}

std::optional<CongestionControlKind> parse_congestion_control(std::string_view name) {
  for (auto kind : {CongestionControlKind::kCubic, CongestionControlKind::kNewReno}) {
    if (name == to_string(kind)) return kind;
  }
  return std::nullopt;
}

std::unique_ptr<CongestionControl> make_congestion_control(CongestionControlKind kind,
                                                           uint32_t mss) {
  switch (kind) {
    case CongestionControlKind::kNewReno:
      return std::make_unique<NewReno>(mss);
    case CongestionControlKind::kCubic:
      break;
  }
  return std::make_unique<Cubic>(mss);
}

CongestionControl::CongestionControl(uint32_t mss)
    : cwnd_(kInitialWindowSegments * std::max<uint32_t>(mss, 1)),
      mss_(std::max<uint32_t>(mss, 1)) {}

void CongestionControl::set_cwnd(uint64_t cwnd) {
  cwnd_ = static_cast<uint32_t>(std::clamp<uint64_t>(cwnd, mss_, kMaxCwnd));
}

void CongestionControl::on_ack(uint32_t acked, Time now, std::optional<Duration> rtt,
                               uint32_t in_flight) {
  if (rtt) on_rtt_sample(*rtt);
  if (in_recovery_ || acked == 0) return;
  if (in_slow_start()) {
    // Slow start uses at least half the window before it doubles it (Linux's rule).
    if (uint64_t{in_flight} * 2 <= cwnd_) return;
    // RFC 3465 with L = 2: at most 2 MSS per ACK, so a stretch ACK cannot burst.
    const uint32_t grow = std::min(acked, 2 * mss_);
    if (grow < ssthresh_ - cwnd_) {
      set_cwnd(uint64_t{cwnd_} + grow);
      return;
    }
    // What crosses ssthresh counts towards congestion avoidance, as in Linux.
    acked -= ssthresh_ - cwnd_;
    set_cwnd(ssthresh_);
  }
  // Congestion avoidance: the flow uses its window when another full segment would not fit.
  congestion_avoidance(acked, now, uint64_t{in_flight} + mss_ > cwnd_);
}

void CongestionControl::enter_recovery(Time now, uint32_t flight_size, RecoveryStyle style) {
  ssthresh_ = on_congestion_event(now, flight_size);
  in_recovery_ = true;
  recovery_style_ = style;
  const uint32_t inflation = style == RecoveryStyle::kDupAcks ? 3 * mss_ : 0;
  set_cwnd(uint64_t{ssthresh_} + inflation);
}

void CongestionControl::on_dup_ack() {
  if (in_recovery_ && recovery_style_ == RecoveryStyle::kDupAcks) {
    set_cwnd(uint64_t{cwnd_} + mss_);
  }
}

void CongestionControl::on_partial_ack(uint32_t acked) {
  if (!in_recovery_ || recovery_style_ != RecoveryStyle::kDupAcks) return;
  const uint32_t deflated = cwnd_ - std::min(acked, cwnd_);
  set_cwnd(uint64_t{deflated} + (acked >= mss_ ? mss_ : 0));
}

void CongestionControl::exit_recovery(uint32_t flight_size) {
  if (!in_recovery_) return;
  in_recovery_ = false;
  set_cwnd(std::min<uint64_t>(ssthresh_, uint64_t{std::max(flight_size, mss_)} + mss_));
}

void CongestionControl::on_rto(Time now, uint32_t flight_size, bool repeated) {
  if (!repeated) ssthresh_ = on_congestion_event(now, flight_size);
  on_timeout();
  in_recovery_ = false;
  set_cwnd(mss_);  // RFC 5681 §3.1: the loss window
}

}  // namespace tapstack::tcp
