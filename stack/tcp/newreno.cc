#include "stack/tcp/newreno.h"

#include <algorithm>

namespace tapstack::tcp {

uint32_t NewReno::on_congestion_event(Time /*now*/, uint32_t flight_size) {
  bytes_acked_ = 0;
  return std::max(flight_size / 2, 2 * mss_);  // RFC 5681 (4)
}

void NewReno::congestion_avoidance(uint32_t acked, Time /*now*/, bool cwnd_limited) {
  if (!cwnd_limited) return;
  bytes_acked_ += acked;
  if (bytes_acked_ >= cwnd_) {  // RFC 5681 §3.1 / RFC 3465 §2.1: one MSS per cwnd acked
    bytes_acked_ -= cwnd_;
    set_cwnd(uint64_t{cwnd_} + mss_);
  }
}

}  // namespace tapstack::tcp
