// A capture's bounded buffer between the engine loop (the one producer) and the reader that
// encodes and sends (the one consumer): records of {timestamp, direction, original length,
// bytes} in a byte ring. The producer never waits: a record that does not fit is dropped and
// counted, so a slow reader loses frames rather than slowing the packet path.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "stack/stats.h"

namespace tapstack::capture {

enum class Direction : uint8_t { kReceived, kSent };

struct Frame {
  int64_t timestamp_ns = 0;  // wall clock (CLOCK_REALTIME) when the frame was copied
  Direction direction = Direction::kReceived;
  std::vector<uint8_t> bytes;  // the whole frame, as the link delivered or was handed it
};

class CaptureRing {
 public:
  // What one record costs in the ring besides its bytes.
  static constexpr size_t kRecordOverhead = 16;
  static constexpr size_t kMinCapacity = 4096;

  // `capacity` bytes of records (at least kMinCapacity).
  explicit CaptureRing(size_t capacity);
  CaptureRing(const CaptureRing&) = delete;
  CaptureRing& operator=(const CaptureRing&) = delete;

  size_t capacity() const { return capacity_; }

  // Producer: copies `frame` in, or counts it lost if it does not fit. Never blocks.
  bool push(int64_t timestamp_ns, Direction direction, std::span<const uint8_t> frame);

  // Consumer: moves out the records present now, oldest first, at most `max_bytes` of frames
  // (at least one record if any). Returns how many were appended to `out`.
  size_t drain(std::vector<Frame>& out, size_t max_bytes);

  // Frames the producer dropped for want of room, and those it copied in, since the start.
  uint64_t lost() const { return lost_.get(); }
  uint64_t pushed() const { return pushed_.get(); }
  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed);
  }

 private:
  void write(uint64_t position, const void* data, size_t size);
  void read(uint64_t position, void* data, size_t size) const;

  const size_t capacity_;
  std::unique_ptr<uint8_t[]> bytes_;
  // Monotonic byte positions; the ring index is position % capacity_. head_ is written by the
  // producer only, tail_ by the consumer only.
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  // Written by the producer only, read by anyone.
  alignas(64) Counter lost_;
  Counter pushed_;
};

}  // namespace tapstack::capture
