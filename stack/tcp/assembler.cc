#include "stack/tcp/assembler.h"

#include <algorithm>

namespace tapstack::tcp {

Assembler::Added Assembler::add(uint32_t offset, uint32_t length) {
  if (length == 0) return Added::kStored;
  const uint32_t end = offset + length;
  // [first, last) are the held ranges the new one overlaps or touches.
  size_t first = 0;
  while (first < count_ && ranges_[first].end < offset) ++first;
  size_t last = first;
  while (last < count_ && ranges_[last].start <= end) ++last;

  if (first == last) {
    if (count_ == kMaxRanges) return Added::kRefused;
    std::move_backward(ranges_.begin() + first, ranges_.begin() + count_,
                       ranges_.begin() + count_ + 1);
    ranges_[first] = Range{offset, end, ++clock_};
    ++count_;
    return Added::kStored;
  }

  Range& merged = ranges_[first];
  const bool duplicate = last == first + 1 && merged.start <= offset && end <= merged.end;
  merged.start = std::min(merged.start, offset);
  merged.end = std::max(ranges_[last - 1].end, end);
  merged.changed = ++clock_;
  erase(first + 1, last);
  return duplicate ? Added::kDuplicate : Added::kStored;
}

uint32_t Assembler::advance(uint32_t n) {
  size_t covered = 0;  // ranges that the n new bytes cover entirely
  while (covered < count_ && ranges_[covered].end <= n) ++covered;
  erase(0, covered);
  if (count_ > 0 && ranges_[0].start < n) ranges_[0].start = n;
  // The in-order end moves past the n bytes and, when they reach it, the first range.
  uint32_t contiguous = 0;
  if (count_ > 0 && ranges_[0].start == n) {
    contiguous = ranges_[0].end - n;
    erase(0, 1);
  }
  const uint32_t moved = n + contiguous;
  for (size_t i = 0; i < count_; ++i) {
    ranges_[i].start -= moved;
    ranges_[i].end -= moved;
  }
  return contiguous;
}

void Assembler::note_duplicate(uint32_t seq_start, uint32_t seq_end) {
  has_duplicate_ = true;
  duplicate_ = SackBlock{seq_start, seq_end};
}

size_t Assembler::sack_blocks(uint32_t rcv_nxt, std::span<SackBlock> out) {
  size_t n = 0;
  if (has_duplicate_ && !out.empty()) out[n++] = duplicate_;
  has_duplicate_ = false;

  // RFC 2018 §4: the block holding the segment that triggered this ACK first, then the blocks
  // reported before, most recent first; a range's last change orders both at once.
  std::array<const Range*, kMaxRanges> order;
  for (size_t i = 0; i < count_; ++i) order[i] = &ranges_[i];
  const size_t wanted = std::min(count_, out.size() - n);
  std::partial_sort(order.begin(), order.begin() + wanted, order.begin() + count_,
                    [](const Range* a, const Range* b) { return a->changed > b->changed; });
  for (size_t i = 0; i < wanted; ++i) {
    out[n++] = SackBlock{rcv_nxt + order[i]->start, rcv_nxt + order[i]->end};
  }
  return n;
}

uint32_t Assembler::held_bytes() const {
  uint32_t held = 0;
  for (size_t i = 0; i < count_; ++i) held += ranges_[i].end - ranges_[i].start;
  return held;
}

void Assembler::clear() {
  count_ = 0;
  has_duplicate_ = false;
}

void Assembler::erase(size_t first, size_t last) {
  std::move(ranges_.begin() + last, ranges_.begin() + count_, ranges_.begin() + first);
  count_ -= last - first;
}

}  // namespace tapstack::tcp
