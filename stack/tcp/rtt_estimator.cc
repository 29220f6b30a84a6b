#include "stack/tcp/rtt_estimator.h"

#include <algorithm>

namespace tapstack::tcp {
namespace {

Duration clamp_rto(Duration rto) {
  return std::clamp(rto, RttEstimator::kMinRto, RttEstimator::kMaxRto);
}

Duration abs(Duration d) {
  return d < Duration::zero() ? -d : d;
}

}  // namespace

RttEstimator::RttEstimator(Duration initial_rto) : rto_(clamp_rto(initial_rto)) {}

void RttEstimator::sample(Duration rtt) {
  if (rtt < Duration::zero()) return;
  // Our timestamps tick every millisecond: a round trip under one tick counts as one (as Linux
  // counts an RTT of 0 as 1), so that SRTT says "measured, and small", never 0.
  rtt = std::max(rtt, kGranularity);
  observe(rtt);
  if (!has_sample_) {  // RFC 6298 §2.2
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    has_sample_ = true;
  } else {  // §2.3, alpha = 1/8 and beta = 1/4; RTTVAR first, from the old SRTT
    rttvar_ = (3 * rttvar_ + abs(srtt_ - rtt)) / 4;
    srtt_ = (7 * srtt_ + rtt) / 8;
  }
  // RTO = SRTT + max(G, K * RTTVAR) with K = 4, then the clamps of §2.4 and §2.5.
  rto_ = clamp_rto(srtt_ + std::max(kGranularity, 4 * rttvar_));
}

void RttEstimator::observe(Duration rtt) {
  if (rtt < Duration::zero()) return;
  rtt = std::max(rtt, kGranularity);
  if (!min_rtt_ || rtt < *min_rtt_) min_rtt_ = rtt;
}

Duration RttEstimator::backed_off(uint32_t retransmits) const {
  Duration rto = rto_;
  for (uint32_t i = 0; i < retransmits && rto < kMaxRto; ++i) rto *= 2;
  return std::min(rto, kMaxRto);
}

}  // namespace tapstack::tcp
