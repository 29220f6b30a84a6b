#include "stack/tcp/byte_ring.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

namespace tapstack::tcp {

size_t ByteRing::push(std::span<const uint8_t> data) {
  size_t n = std::min(data.size(), room());
  if (n == 0) return 0;
  reserve(size_ + n);
  copy_in(size_, data.first(n));
  size_ += n;
  beyond_ = beyond_ > n ? beyond_ - n : 0;
  return n;
}

void ByteRing::write_beyond(size_t offset, std::span<const uint8_t> data) {
  assert(size_ + offset + data.size() <= limit_);
  if (data.empty()) return;
  reserve(size_ + offset + data.size());
  copy_in(size_ + offset, data);
  beyond_ = std::max(beyond_, offset + data.size());
}

void ByteRing::extend(size_t n) {
  assert(n <= beyond_);
  size_ += n;
  beyond_ -= n;
}

size_t ByteRing::peek(size_t offset, std::span<uint8_t> out) const {
  if (offset >= size_) return 0;
  size_t n = std::min(out.size(), size_ - offset);
  size_t start = (head_ + offset) & (capacity_ - 1);
  size_t first = std::min(n, capacity_ - start);
  std::memcpy(out.data(), storage_.get() + start, first);
  std::memcpy(out.data() + first, storage_.get(), n - first);
  return n;
}

void ByteRing::consume(size_t n) {
  assert(n <= size_);
  size_ -= n;
  head_ = capacity_ ? (head_ + n) & (capacity_ - 1) : 0;
  if (size_ == 0 && beyond_ == 0) clear();
}

void ByteRing::clear() {
  storage_.reset();
  capacity_ = head_ = size_ = beyond_ = 0;
}

void ByteRing::reserve(size_t bytes) {
  if (bytes <= capacity_) return;
  // At least 4 KiB, so a trickle of small writes does not reallocate at every one.
  size_t capacity = std::max<size_t>(std::bit_ceil(bytes), 4096);
  auto storage = std::make_unique_for_overwrite<uint8_t[]>(capacity);
  size_t held = std::min(size_ + beyond_, capacity_);
  if (held) {
    size_t first = std::min(held, capacity_ - head_);
    std::memcpy(storage.get(), storage_.get() + head_, first);
    std::memcpy(storage.get() + first, storage_.get(), held - first);
  }
  storage_ = std::move(storage);
  capacity_ = capacity;
  head_ = 0;
}

void ByteRing::copy_in(size_t position, std::span<const uint8_t> data) {
  size_t start = (head_ + position) & (capacity_ - 1);
  size_t first = std::min(data.size(), capacity_ - start);
  std::memcpy(storage_.get() + start, data.data(), first);
  std::memcpy(storage_.get(), data.data() + first, data.size() - first);
}

}  // namespace tapstack::tcp
