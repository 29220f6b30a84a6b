// CUBIC (RFC 9438): after a loss the window follows W_cubic(t) = C * (t - K)^3 + W_max, flat
// near the window where the last loss happened (concave below it, convex beyond), and never
// grows slower than Reno would (the Reno-friendly W_est). Windows are in bytes here; the
// formula is in segments, so W_max and K are computed in segments of the connection's MSS.
#pragma once

#include "stack/tcp/congestion_control.h"

namespace tapstack::tcp {

class Cubic final : public CongestionControl {
 public:
  static constexpr double kC = 0.4;
  static constexpr double kBeta = 0.7;
  // W_est's growth per RTT until it reaches the window before the last reduction.
  static constexpr double kRenoAlpha = 3 * (1 - kBeta) / (1 + kBeta);

  explicit Cubic(uint32_t mss) : CongestionControl(mss) {}
  CongestionControlKind kind() const override { return CongestionControlKind::kCubic; }

  // The state of the current congestion avoidance stage, for tests and `ls -i`-style output.
  double w_max_segments() const { return w_max_; }
  double k_seconds() const { return k_; }
  double w_est_bytes() const { return w_est_; }
  // W_cubic(t) in bytes for `t` since the stage began; meaningful once it has.
  double w_cubic_bytes(Duration t) const;

 protected:
  uint32_t on_congestion_event(Time now, uint32_t flight_size) override;
  void on_timeout() override;
  void congestion_avoidance(uint32_t acked, Time now, bool cwnd_limited) override;
  void on_rtt_sample(Duration rtt) override;

 private:
  void begin_epoch(Time now);

  double w_max_ = 0;       // segments; the window at the last loss (0: none, or reset by RTO)
  double cwnd_prior_ = 0;  // bytes; cwnd before the last reduction, where W_est's alpha becomes 1
  bool in_epoch_ = false;  // a congestion avoidance stage is under way
  Time epoch_start_{};     // t_epoch, moved forward over stretches the flow did not use cwnd
  Time last_ack_{};
  double origin_ = 0;   // segments; the W_max this stage's curve uses
  double k_ = 0;        // seconds
  double w_est_ = 0;    // bytes
  double carry_ = 0;    // bytes of growth below one byte, kept for the next ACK
  Duration min_rtt_{};  // the RTT in W_cubic(t + RTT): the minimum seen, as Linux's delay_min
};

}  // namespace tapstack::tcp
