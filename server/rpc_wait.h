// When a waiting call should give up on its own: the call's deadline less a margin (a fifth of
// the time left, at most 50 ms), so that a result produced just before it still reaches the
// client in time instead of being thrown away by the client's own timer.
#pragma once

#include <grpcpp/server_context.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace tapstack::server {

enum class WaitEnd { kReady, kDeadline, kCancelled };

// nullopt for a call without a deadline.
inline std::optional<std::chrono::system_clock::time_point> give_up_at(
    const grpc::ServerContextBase& ctx) {
  auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return std::nullopt;
  auto now = std::chrono::system_clock::now();
  auto left = std::max(deadline - now, std::chrono::system_clock::duration::zero());
  auto margin =
      std::min<std::chrono::system_clock::duration>(left / 5, std::chrono::milliseconds(50));
  return now + (left - margin);
}

}  // namespace tapstack::server
