// A connection's send or receive buffer: a byte FIFO bounded by `limit` whose storage grows on
// demand (powers of two) and is given back once it holds nothing, so that the many connections
// that carry no data (or are idle) cost no buffer at all. Bytes may also be written beyond the
// end (out-of-order data waiting for a hole to fill, see Assembler) and joined to it later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace tapstack::tcp {

class ByteRing {
 public:
  explicit ByteRing(size_t limit) : limit_(limit) {}

  size_t size() const { return size_; }  // bytes held from the head
  size_t limit() const { return limit_; }
  size_t room() const { return limit_ - size_; }
  bool empty() const { return size_ == 0; }
  // Bytes of storage allocated now (for memory accounting).
  size_t capacity() const { return capacity_; }

  // Appends up to room() bytes; returns how many.
  size_t push(std::span<const uint8_t> data);
  // Writes `data` at `offset` bytes past the end, where it is not yet part of size(); it must
  // end within the limit. extend() joins it once everything before it is there.
  void write_beyond(size_t offset, std::span<const uint8_t> data);
  // Makes the next `n` bytes past the end (written with write_beyond) part of size().
  void extend(size_t n);
  // Copies bytes from `offset` past the head without consuming them; returns how many.
  size_t peek(size_t offset, std::span<uint8_t> out) const;
  // Drops `n` (at most size()) bytes from the head.
  void consume(size_t n);
  // Forgets everything, the bytes past the end included, and gives the storage back.
  void clear();

 private:
  // Makes the storage hold at least `bytes` from the head (at most the limit).
  void reserve(size_t bytes);
  void copy_in(size_t position, std::span<const uint8_t> data);

  size_t limit_;
  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;  // a power of two, or 0
  size_t head_ = 0;      // index of the first byte
  size_t size_ = 0;
  size_t beyond_ = 0;  // bytes past the end that write_beyond() may have written
};

}  // namespace tapstack::tcp
