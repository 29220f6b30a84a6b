// The daemon's bounds on packet captures (--max-captures, --capture-memory) and their totals
// for the exporter. Any thread.
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

namespace tapstack::server {

class CaptureLimits {
 public:
  CaptureLimits(size_t max_captures, size_t max_bytes)
      : max_captures_(max_captures), max_bytes_(max_bytes) {}

  // A running capture's share of the limits, given back when it is destroyed.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept
        : limits_(std::exchange(other.limits_, nullptr)), bytes_(other.bytes_) {}
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation();

   private:
    friend class CaptureLimits;
    Reservation(CaptureLimits* limits, size_t bytes) : limits_(limits), bytes_(bytes) {}
    CaptureLimits* limits_ = nullptr;
    size_t bytes_ = 0;
  };

  // One more capture with `bytes` of rings, or RESOURCE_EXHAUSTED naming the flag in the way.
  grpc::Status reserve(size_t bytes, Reservation& out);

  // Totals for the exporter: frames the readers took out of rings, and those lost.
  void count(uint64_t frames, uint64_t lost) {
    frames_.fetch_add(frames, std::memory_order_relaxed);
    lost_.fetch_add(lost, std::memory_order_relaxed);
  }
  size_t running() const;
  uint64_t frames() const { return frames_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

 private:
  void release(size_t bytes);

  const size_t max_captures_;
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  size_t running_ = 0;  // guarded by mutex_
  size_t bytes_ = 0;    // guarded by mutex_
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> lost_{0};
};

}  // namespace tapstack::server
