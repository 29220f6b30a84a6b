#include "server/handshake_histogram.h"

#include <algorithm>

namespace tapstack::server {

void HandshakeHistogram::observe(Duration duration) {
  double seconds = std::chrono::duration<double>(duration).count();
  auto bucket = static_cast<size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) -
                                    kBounds.begin());  // le: a value on a bound belongs to it
  buckets_[bucket].add();
  sum_nanoseconds_.add(static_cast<uint64_t>(std::max<int64_t>(duration.count(), 0)));
}

HandshakeHistogram::Snapshot HandshakeHistogram::snapshot() const {
  Snapshot s;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    s.buckets[i] = buckets_[i].get();
    s.count += s.buckets[i];
  }
  s.sum_seconds = static_cast<double>(sum_nanoseconds_.get()) / 1e9;
  return s;
}

}  // namespace tapstack::server
