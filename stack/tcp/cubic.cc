#include "stack/tcp/cubic.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace tapstack::tcp {
namespace {

double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

double Cubic::w_cubic_bytes(Duration t) const {
  const double dt = to_seconds(t) - k_;
  return (kC * dt * dt * dt + origin_) * mss_;
}

uint32_t Cubic::on_congestion_event(Time /*now*/, uint32_t flight_size) {
  const double cwnd_segments = static_cast<double>(cwnd_) / mss_;
  // Fast convergence (RFC 9438 §4.7): a loss below the previous W_max means a new flow is
  // taking its share, so release some of ours early.
  w_max_ = cwnd_segments < w_max_ ? cwnd_segments * (1 + kBeta) / 2 : cwnd_segments;
  cwnd_prior_ = cwnd_;
  in_epoch_ = false;
  // §4.6: from the flight size, which cwnd may exceed when the sender was not using it.
  const auto reduced = static_cast<uint32_t>(flight_size * kBeta);
  return std::max(reduced, 2 * mss_);
}

void Cubic::on_timeout() {
  // §4.8: the first stage after a timeout starts its curve at its own cwnd, with K = 0.
  w_max_ = 0;
  in_epoch_ = false;
}

void Cubic::on_rtt_sample(Duration rtt) {
  if (rtt > Duration::zero() && (min_rtt_ == Duration::zero() || rtt < min_rtt_)) min_rtt_ = rtt;
}

void Cubic::begin_epoch(Time now) {
  in_epoch_ = true;
  epoch_start_ = now;
  last_ack_ = now;
  carry_ = 0;
  const double cwnd_epoch = static_cast<double>(cwnd_) / mss_;
  // §4.2: K from the distance to W_max; from a window at or above it (slow start ended
  // without a loss, or after a timeout) the curve starts flat at the current window.
  origin_ = std::max(w_max_, cwnd_epoch);
  k_ = std::cbrt((origin_ - cwnd_epoch) / kC);
  w_est_ = cwnd_;  // §4.3
}

void Cubic::congestion_avoidance(uint32_t acked, Time now, bool cwnd_limited) {
  if (!in_epoch_) begin_epoch(now);
  if (!cwnd_limited) {
    // Time the flow spent not using its window does not move it along the curve (Linux shifts
    // the epoch over idle periods the same way), so it does not jump when it uses it again.
    epoch_start_ += now - last_ack_;
    last_ack_ = now;
    return;
  }
  last_ack_ = now;
  const Duration t = now - epoch_start_;
  const double cwnd = cwnd_;

  // §4.2: aim at the curve one RTT ahead, between no growth and 1.5 * cwnd per RTT, and move
  // (target - cwnd) / cwnd segments per segment acknowledged.
  const double target = std::clamp(w_cubic_bytes(t + min_rtt_), cwnd, 1.5 * cwnd);
  double next = cwnd + carry_ + (target - cwnd) * acked / cwnd;

  // §4.3: W_est grows as Reno with alpha_cubic (1 once it passed the pre-loss window), and
  // where the curve is below it CUBIC follows it.
  const double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kRenoAlpha;
  w_est_ += alpha * acked * mss_ / cwnd;
  if (w_cubic_bytes(t) < w_est_) next = std::max(next, w_est_);

  next = std::min(next, static_cast<double>(kMaxCwnd));
  const double whole = std::floor(next);
  carry_ = next - whole;
  set_cwnd(static_cast<uint64_t>(whole));
}

}  // namespace tapstack::tcp
