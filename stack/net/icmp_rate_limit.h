// The one token bucket for ICMP output of both families, as Linux's icmp_global_allow is shared
// by ICMP and ICMPv6 (icmp_msgs_per_sec / icmp_msgs_burst): a flood of either family costs a
// bounded number of answers in total.
#pragma once

#include "stack/clock.h"
#include "stack/engine_config.h"

namespace tapstack::net {

class IcmpRateLimit {
 public:
  IcmpRateLimit(const EngineConfig& config, Time now);
  // Takes one message's credit from the bucket, if there is one.
  bool allow(Time now);

 private:
  const EngineConfig& config_;
  Duration credit_;  // time's worth of messages: one costs 1 s / icmp_messages_per_second
  Time last_refill_;
};

}  // namespace tapstack::net
