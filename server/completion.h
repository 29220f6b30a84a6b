// A one-shot result handed from the engine loop to one waiting RPC. The loop produces the
// value and the RPC gives up under the same lock, so exactly one of them wins: a connection
// Accept takes is either delivered to that caller or, if the caller gave up first, never
// taken from the accept queue at all.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>

#include "server/rpc_wait.h"

namespace tapstack::server {

template <class T>
class Completion {
 public:
  enum class Outcome { kCompleted, kNotReady, kAbandoned };

  // Loop thread. Unless the waiter has given up, runs `produce` (which returns the value, or
  // nullopt if there is nothing to complete with yet) under the lock.
  template <class Produce>
  Outcome try_complete(Produce&& produce) {
    std::lock_guard lock(mutex_);
    if (abandoned_) return Outcome::kAbandoned;
    if (value_) return Outcome::kCompleted;
    std::optional<T> v = produce();
    if (!v) return Outcome::kNotReady;
    value_.emplace(std::move(*v));
    cv_.notify_all();
    return Outcome::kCompleted;
  }

  Outcome complete(T value) {
    return try_complete([&] { return std::optional<T>(std::move(value)); });
  }

  bool abandoned() const {
    std::lock_guard lock(mutex_);
    return abandoned_;
  }

  // RPC thread. The value, or nullopt with `why` set if the wait ended first; the completion
  // is then abandoned, under the lock, so the loop produces nothing for it afterwards.
  std::optional<T> wait(grpc::ServerContext& ctx, SteadyTime deadline, WaitEnd& why) {
    std::unique_lock lock(mutex_);
    why = wait_for_rpc(cv_, lock, ctx, deadline, [&] { return value_.has_value(); });
    if (why != WaitEnd::kReady) {
      abandoned_ = true;
      return std::nullopt;
    }
    return std::move(value_);
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
  bool abandoned_ = false;
};

}  // namespace tapstack::server
