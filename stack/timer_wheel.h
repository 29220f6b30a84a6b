// A hashed timer wheel with 1 ms ticks and intrusive nodes: arming, re-arming and cancelling
// are O(1) and allocate nothing, which matters when every half-open connection has a
// retransmission timer. A node unlinks itself when destroyed, so erasing the record that holds
// it cancels its timer.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stack/clock.h"

namespace tapstack {

class TimerNode {
 public:
  TimerNode() = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;
  ~TimerNode() { unlink(); }

  bool armed() const { return next_ != nullptr; }
  Time deadline() const { return deadline_; }

  // What kind of record holds this node, so the owner's fire callback can dispatch on it.
  uint8_t kind = 0;

 private:
  friend class TimerWheel;
  void unlink() {
    if (!next_) return;
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
    if (armed_count_) --*armed_count_;  // sentinels have no count
  }
  void link_before(TimerNode* head, size_t* armed_count) {
    prev_ = head->prev_;
    next_ = head;
    head->prev_->next_ = this;
    head->prev_ = this;
    armed_count_ = armed_count;
    ++*armed_count_;
  }
  TimerNode* prev_ = nullptr;
  TimerNode* next_ = nullptr;
  size_t* armed_count_ = nullptr;  // the wheel's count of armed nodes
  Time deadline_{};
  int64_t tick_ = 0;
};

class TimerWheel {
 public:
  static constexpr Duration kTick = milliseconds(1);

  explicit TimerWheel(Time start, size_t slots = 4096);
  // Disarms the nodes still armed, so that records outliving the wheel never touch it.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Fires no earlier than `deadline`, at the first advance() whose time reaches it.
  void arm(TimerNode& node, Time deadline);
  void cancel(TimerNode& node) { node.unlink(); }

  // Fires, in deadline order to the tick, every node whose deadline is <= now. `fire` may
  // arm or cancel any node, including the one it was given.
  template <class F>
  void advance(Time now, F&& fire);

  // A time at or before the earliest deadline, if any node is armed.
  std::optional<Time> next_deadline() const;
  size_t armed() const { return armed_; }

 private:
  static int64_t tick_of(Time t) { return (t.count() + kTick.count() - 1) / kTick.count(); }
  TimerNode& slot(int64_t tick) { return slots_[static_cast<size_t>(tick) & mask_]; }
  // Before a gap longer than a turn of the wheel, jumps over the ticks where nothing is due,
  // so a clock that leaps (a test, a suspended process) costs one scan, not one step per ms.
  void skip_idle_ticks(int64_t target);

  // Slot sentinels are linked by hand, never through link_before/unlink, so they are not
  // counted as armed.
  static void make_empty(TimerNode& sentinel) { sentinel.prev_ = sentinel.next_ = &sentinel; }

  std::vector<TimerNode> slots_;  // sentinels of circular lists
  size_t mask_;
  int64_t current_tick_;  // every tick <= this has been processed
  size_t armed_ = 0;
  // No node is armed for a tick below this: next_deadline() scans from here, not from the
  // current tick, so a wake-up costs a few slot checks rather than a turn of the wheel.
  mutable int64_t scan_from_ = 0;
};

template <class F>
void TimerWheel::advance(Time now, F&& fire) {
  int64_t target = now.count() / kTick.count();
  while (current_tick_ < target) {
    if (target - current_tick_ > static_cast<int64_t>(slots_.size())) skip_idle_ticks(target);
    if (current_tick_ >= target) break;
    ++current_tick_;
    TimerNode& head = slot(current_tick_);
    if (head.next_ == &head) continue;
    // Move the slot aside so that nodes armed by `fire` into this slot wait for a later pass.
    TimerNode pending;
    pending.next_ = head.next_;
    pending.prev_ = head.prev_;
    head.next_->prev_ = &pending;
    head.prev_->next_ = &pending;
    make_empty(head);
    while (pending.next_ != &pending) {
      TimerNode* node = pending.next_;
      node->unlink();
      if (node->tick_ <= current_tick_) {
        fire(*node);
      } else {
        node->link_before(&head, &armed_);  // a later round of the wheel
      }
    }
    pending.prev_ = pending.next_ = nullptr;
  }
}

}  // namespace tapstack
