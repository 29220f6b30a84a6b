// Handshake durations as a plain histogram: the engine loop adds an observation for every
// completed handshake (a few relaxed stores, no prometheus-cpp call), and the metrics
// collector reads it at scrape time.
#pragma once

#include <array>
#include <cstdint>

#include "stack/clock.h"
#include "stack/stats.h"

namespace tapstack::server {

class HandshakeHistogram {
 public:
  // Upper bounds in seconds, 50 us to 10 s.
  static constexpr std::array<double, 17> kBounds = {50e-6,  100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3,
                                                     5e-3,   10e-3,  25e-3,  50e-3,  100e-3, 250e-3,
                                                     500e-3, 1.0,    2.5,    5.0,    10.0};

  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};  // per bucket (not cumulative), +Inf last
    uint64_t count = 0;
    double sum_seconds = 0;

    // Another loop's observations joined to these.
    void add(const Snapshot& other) {
      for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
      count += other.count;
      sum_seconds += other.sum_seconds;
    }
  };

  // One writer: the engine loop thread (each loop has its own histogram).
  void observe(Duration duration);
  // Any thread.
  Snapshot snapshot() const;

 private:
  std::array<Counter, kBounds.size() + 1> buckets_;
  Counter sum_nanoseconds_;
};

}  // namespace tapstack::server
