#include "stack/timer_wheel.h"

#include <algorithm>
#include <bit>

namespace tapstack {

TimerWheel::TimerWheel(Time start, size_t slots)
    : slots_(std::bit_ceil(slots)),
      mask_(slots_.size() - 1),
      current_tick_(start.count() / kTick.count()) {
  for (auto& s : slots_) make_empty(s);
}

TimerWheel::~TimerWheel() {
  for (TimerNode& head : slots_) {
    while (head.next_ != &head) head.next_->unlink();
    head.prev_ = head.next_ = nullptr;
  }
}

void TimerWheel::arm(TimerNode& node, Time deadline) {
  node.unlink();
  node.deadline_ = deadline;
  // A deadline already due still waits for the next advance(), never fires from inside arm().
  node.tick_ = std::max(tick_of(deadline), current_tick_ + 1);
  node.link_before(&slot(node.tick_), &armed_);
  scan_from_ = std::min(scan_from_, node.tick_);
}

void TimerWheel::skip_idle_ticks(int64_t target) {
  if (armed_ == 0) {
    current_tick_ = target;
    return;
  }
  int64_t earliest = target;
  for (const TimerNode& head : slots_) {
    for (const TimerNode* n = head.next_; n != &head; n = n->next_)
      earliest = std::min(earliest, n->tick_);
  }
  current_tick_ = std::max(current_tick_, earliest - 1);
}

std::optional<Time> TimerWheel::next_deadline() const {
  // The first non-empty slot of the coming turn. Its nodes may belong to a later round, and
  // waking for them is merely early: advance() then finds nothing due and this is asked again.
  if (armed_ == 0) return std::nullopt;
  int64_t from = std::max(scan_from_, current_tick_ + 1);
  for (int64_t tick = from; tick < from + static_cast<int64_t>(slots_.size()); ++tick) {
    const TimerNode& head = slots_[static_cast<size_t>(tick) & mask_];
    if (head.next_ != &head) {
      scan_from_ = tick;
      return Time(tick * kTick.count());
    }
  }
  return std::nullopt;
}

}  // namespace tapstack
