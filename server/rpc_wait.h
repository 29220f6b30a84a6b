// Waiting inside a synchronous gRPC handler for something the engine loop will do, bounded by
// the call's deadline and by the client going away.
#pragma once

#include <grpcpp/server_context.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tapstack::server {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class WaitEnd { kReady, kDeadline, kCancelled };

// When the handler should give up: the call's deadline less a margin (a fifth of the time
// left, at most 50 ms), so that a result produced just before it still reaches the client in
// time instead of being thrown away by the client's own timer.
inline SteadyTime rpc_deadline(const grpc::ServerContext& ctx) {
  auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return SteadyTime::max();
  auto left = std::max(deadline - std::chrono::system_clock::now(),
                       std::chrono::system_clock::duration::zero());
  auto margin =
      std::min<std::chrono::system_clock::duration>(left / 5, std::chrono::milliseconds(50));
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(left - margin);
}

// Waits on `cv` (with `lock` held) until `ready()`, `deadline`, or the client cancels. The
// synchronous API has no way to wake a handler when its client cancels, so the wait looks at
// IsCancelled() every 100 ms; everything else wakes it at once.
template <class Ready>
WaitEnd wait_for_rpc(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                     grpc::ServerContext& ctx, SteadyTime deadline, Ready ready) {
  constexpr auto kCancelPoll = std::chrono::milliseconds(100);
  while (!ready()) {
    if (ctx.IsCancelled()) return WaitEnd::kCancelled;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return WaitEnd::kDeadline;
    cv.wait_until(lock, std::min<SteadyTime>(deadline, now + kCancelPoll));
  }
  return WaitEnd::kReady;
}

}  // namespace tapstack::server
