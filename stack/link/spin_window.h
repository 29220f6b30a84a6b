// How long a link wait spins after the last input (a frame or a wake()), checking for more
// without sleeping, before it sleeps (--busy-poll-us). A spin ends early at the wait's deadline;
// timers alone never start one, so an idle loop sleeps.
#pragma once

#include <optional>

#include "stack/clock.h"
#include "stack/stats.h"

namespace tapstack::link {

struct BusyPoll {
  Duration window{};  // zero: sleep at once
  // NAPI-style: the window halves (down to kAdaptiveFloor) after a spin that caught nothing and
  // doubles (up to `window`) after one that caught input, so a steady stream is caught without
  // wake-ups while sparse traffic costs at most about what the wake-up it replaces would.
  bool adaptive = false;
};

// About what a sleep and a wake-up cost the loop thread (3-5 us measured on the 2-core VM):
// spinning that long before sleeping wastes at most about as much as it can save (the
// spin-then-block rule).
inline constexpr Duration kAdaptiveFloor = std::chrono::microseconds(5);

class SpinWindow {
 public:
  explicit SpinWindow(BusyPoll policy) : policy_(policy), length_(policy.window) {}

  // Until when a wait with `deadline`, whose last input came at `last_input`, spins (at or
  // before last_input: it does not).
  Time until(Time last_input, std::optional<Time> deadline);
  // After a spin that ran, to its end or until input came.
  void spun(bool caught);
  // The loop thread's; the counts may be read from any thread.
  Duration length() const { return length_; }
  uint64_t caught() const { return caught_.get(); }  // spins that input ended
  uint64_t missed() const { return missed_.get(); }  // spins that ran their length for nothing

 private:
  const BusyPoll policy_;
  Duration length_;
  Counter caught_;
  Counter missed_;
  bool cut_by_deadline_ = false;  // the last spin's end was the wait's deadline, not its window
};

}  // namespace tapstack::link
