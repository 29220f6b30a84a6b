#include "stack/timer_wheel.h"

#include <algorithm>
#include <bit>

namespace tapstack {

TimerWheel::TimerWheel(Time start, size_t slots)
    : slots_(std::bit_ceil(slots)),
      mask_(slots_.size() - 1),
      current_tick_(start.count() / kTick.count()) {
  for (auto& s : slots_) s.prev_ = s.next_ = &s;
}

void TimerWheel::arm(TimerNode& node, Time deadline) {
  node.unlink();
  node.deadline_ = deadline;
  // A deadline already due still waits for the next advance(), never fires from inside arm().
  node.tick_ = std::max(tick_of(deadline), current_tick_ + 1);
  node.link_before(&slot(node.tick_));
}

void TimerWheel::skip_idle_ticks(int64_t target) {
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
  for (size_t i = 1; i <= slots_.size(); ++i) {
    int64_t tick = current_tick_ + static_cast<int64_t>(i);
    const TimerNode& head = slots_[static_cast<size_t>(tick) & mask_];
    if (head.next_ != &head) return Time(tick * kTick.count());
  }
  return std::nullopt;
}

}  // namespace tapstack
