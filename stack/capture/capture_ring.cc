#include "stack/capture/capture_ring.h"

#include <algorithm>
#include <cstring>

namespace tapstack::capture {
namespace {

struct RecordHeader {
  int64_t timestamp_ns;
  uint32_t length;
  uint8_t direction;
  uint8_t reserved[3];
};
static_assert(sizeof(RecordHeader) == CaptureRing::kRecordOverhead);

}  // namespace

CaptureRing::CaptureRing(size_t capacity)
    : capacity_(std::max(capacity, kMinCapacity)), bytes_(new uint8_t[capacity_]) {}

void CaptureRing::write(uint64_t position, const void* data, size_t size) {
  const size_t at = position % capacity_;
  const size_t first = std::min(size, capacity_ - at);
  std::memcpy(bytes_.get() + at, data, first);
  std::memcpy(bytes_.get(), static_cast<const uint8_t*>(data) + first, size - first);
}

void CaptureRing::read(uint64_t position, void* data, size_t size) const {
  const size_t at = position % capacity_;
  const size_t first = std::min(size, capacity_ - at);
  std::memcpy(data, bytes_.get() + at, first);
  std::memcpy(static_cast<uint8_t*>(data) + first, bytes_.get(), size - first);
}

bool CaptureRing::push(int64_t timestamp_ns, Direction direction, std::span<const uint8_t> frame) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  const uint64_t used = head - tail_.load(std::memory_order_acquire);
  if (kRecordOverhead + frame.size() > capacity_ - used) {
    lost_.add();
    return false;
  }
  RecordHeader header{
      timestamp_ns, static_cast<uint32_t>(frame.size()), static_cast<uint8_t>(direction), {}};
  write(head, &header, sizeof header);
  write(head + sizeof header, frame.data(), frame.size());
  head_.store(head + sizeof header + frame.size(), std::memory_order_release);
  pushed_.add();
  return true;
}

size_t CaptureRing::drain(std::vector<Frame>& out, size_t max_bytes) {
  const uint64_t head = head_.load(std::memory_order_acquire);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  size_t taken = 0;
  size_t bytes = 0;
  while (tail != head && (taken == 0 || bytes < max_bytes)) {
    RecordHeader header;
    read(tail, &header, sizeof header);
    Frame& frame = out.emplace_back();
    frame.timestamp_ns = header.timestamp_ns;
    frame.direction = static_cast<Direction>(header.direction);
    frame.bytes.resize(header.length);
    read(tail + sizeof header, frame.bytes.data(), header.length);
    tail += sizeof header + header.length;
    bytes += header.length;
    ++taken;
  }
  tail_.store(tail, std::memory_order_release);
  return taken;
}

}  // namespace tapstack::capture
