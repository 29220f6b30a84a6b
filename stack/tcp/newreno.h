// NewReno (RFC 5681 congestion avoidance, RFC 6582 recovery): half the flight size after a
// loss, and one MSS more per window of bytes acknowledged (RFC 3465 byte counting).
#pragma once

#include "stack/tcp/congestion_control.h"

namespace tapstack::tcp {

class NewReno final : public CongestionControl {
 public:
  explicit NewReno(uint32_t mss) : CongestionControl(mss) {}
  CongestionControlKind kind() const override { return CongestionControlKind::kNewReno; }

 protected:
  uint32_t on_congestion_event(Time now, uint32_t flight_size) override;
  void congestion_avoidance(uint32_t acked, Time now, bool cwnd_limited) override;

 private:
  uint32_t bytes_acked_ = 0;  // RFC 3465's bytes_acked in congestion avoidance
};

}  // namespace tapstack::tcp
