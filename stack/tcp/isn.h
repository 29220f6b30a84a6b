// Initial sequence numbers per RFC 6528: ISN = M + F(local, lport, remote, rport, secret),
// M a clock ticking every 4 microseconds, F keyed SipHash-2-4. Also the per-connection
// timestamp offset (Linux's secure_tcp_ts_off), so that TSval does not reveal uptime.
#pragma once

#include <cstdint>

#include "stack/clock.h"
#include "stack/tcp/four_tuple.h"
#include "stack/tcp/siphash.h"

namespace tapstack::tcp {

class IsnGenerator {
 public:
  explicit IsnGenerator(const SipKey& key) : key_(key) {}
  uint32_t isn(const FourTuple& tuple, Time now) const;
  uint32_t timestamp_offset(const FourTuple& tuple) const;
  const SipKey& key() const { return key_; }

 private:
  SipKey key_;
};

}  // namespace tapstack::tcp
