#include "stack/net/icmp_rate_limit.h"

#include <algorithm>

namespace tapstack::net {

IcmpRateLimit::IcmpRateLimit(const EngineConfig& config, Time now)
    : config_(config),
      credit_(config.icmp_messages_per_second
                  ? Duration{seconds(1)} / config.icmp_messages_per_second * config.icmp_burst
                  : Duration{}),
      last_refill_(now) {}

bool IcmpRateLimit::allow(Time now) {
  // A bucket refilled at icmp_msgs_per_sec, holding at most icmp_msgs_burst messages.
  if (config_.icmp_messages_per_second == 0) return false;
  Duration cost = Duration{seconds(1)} / config_.icmp_messages_per_second;
  credit_ = std::min<Duration>(credit_ + (now - last_refill_), cost * config_.icmp_burst);
  last_refill_ = now;
  if (credit_ < cost) return false;
  credit_ -= cost;
  return true;
}

}  // namespace tapstack::net
