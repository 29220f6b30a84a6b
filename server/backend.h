// What the gRPC services share: the engine loops with their event hubs, the event log, the call
// limiter, the daemon's options, the kernel cookie path (null without one), and whether the daemon
// is shutting down (new calls are then refused with UNAVAILABLE).
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>

#include "server/call_limiter.h"
#include "server/event_hub.h"
#include "server/event_log.h"
#include "server/flags.h"
#include "server/shards.h"
#include "stack/engine_loop.h"
#include "stack/link/cookie_path_program.h"

namespace tapstack::server {

struct Backend {
  Shards& shards;
  EventLog& log;
  CallLimiter& limiter;
  const DaemonOptions& options;
  const link::CookiePathProgram* cookie_path;
  std::atomic<bool> draining{false};

  // A slot for one call of `ctx`'s client, held until the call ends: not OK (UNAVAILABLE)
  // while the daemon shuts down, or RESOURCE_EXHAUSTED beyond the call limits.
  CallLimiter::Slot admit(const grpc::ServerContextBase& ctx) {
    if (draining.load()) {
      return CallLimiter::Slot::refused(
          {grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"});
    }
    return limiter.admit(ctx);
  }
};

}  // namespace tapstack::server
