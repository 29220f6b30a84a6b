// A one-shot result handed from the engine loop to one waiting unary call (Connect, Accept).
// The loop produces the value and the call gives up (deadline, cancellation) under the same
// lock, so exactly one of them wins: a connection Accept takes is either delivered to that
// caller or, if the caller gave up first, never taken from the accept queue at all. Whichever
// wins runs its callback once, outside the lock; the other callback is dropped unused.
#pragma once

#include <functional>
#include <mutex>
#include <optional>

#include "server/rpc_wait.h"

namespace tapstack::server {

template <class T>
class Completion {
 public:
  enum class Outcome { kCompleted, kNotReady, kAbandoned };

  Completion(std::function<void(T)> deliver, std::function<void(WaitEnd)> gave_up)
      : deliver_(std::move(deliver)), gave_up_(std::move(gave_up)) {}

  // Loop thread. Unless the waiter has given up, runs `produce` (which returns the value, or
  // nullopt if there is nothing to complete with yet) under the lock, and delivers it.
  template <class Produce>
  Outcome try_complete(Produce&& produce) {
    std::function<void(T)> deliver;
    std::optional<T> value;
    {
      std::lock_guard lock(mutex_);
      if (abandoned_) return Outcome::kAbandoned;
      if (!deliver_) return Outcome::kCompleted;
      value = produce();
      if (!value) return Outcome::kNotReady;
      deliver = std::exchange(deliver_, nullptr);
      gave_up_ = nullptr;
    }
    deliver(std::move(*value));
    return Outcome::kCompleted;
  }

  Outcome complete(T value) {
    return try_complete([&] { return std::optional<T>(std::move(value)); });
  }

  // Any thread: the waiter gives up; nothing is produced for it afterwards.
  void give_up(WaitEnd why) {
    std::function<void(WaitEnd)> gave_up;
    {
      std::lock_guard lock(mutex_);
      if (!deliver_) return;  // already completed or given up
      abandoned_ = true;
      deliver_ = nullptr;
      gave_up = std::exchange(gave_up_, nullptr);
    }
    gave_up(why);
  }

  bool abandoned() const {
    std::lock_guard lock(mutex_);
    return abandoned_;
  }
  // Neither completed nor given up: still waiting. (Several loops may hold one Accept's
  // completion; once one completes it, the others find it no longer waiting.)
  bool waiting() const {
    std::lock_guard lock(mutex_);
    return deliver_ != nullptr;
  }

 private:
  mutable std::mutex mutex_;
  std::function<void(T)> deliver_;  // null once completed or given up
  std::function<void(WaitEnd)> gave_up_;
  bool abandoned_ = false;
};

}  // namespace tapstack::server
