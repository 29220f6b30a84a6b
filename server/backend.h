// What the gRPC services share: the engine loop, the event hub, the daemon's options, the SYN
// shield (null without one), and whether the daemon is shutting down (new calls are then refused
// with UNAVAILABLE).
#pragma once

#include <grpcpp/support/status.h>

#include <atomic>

#include "server/event_hub.h"
#include "server/flags.h"
#include "stack/engine_loop.h"
#include "stack/link/syn_shield.h"

namespace tapstack::server {

struct Backend {
  EngineLoop& loop;
  EventHub& hub;
  const DaemonOptions& options;
  const link::SynShield* shield;
  std::atomic<bool> draining{false};

  // UNAVAILABLE while the daemon shuts down, else OK.
  grpc::Status admit() const {
    if (draining.load()) return {grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"};
    return grpc::Status::OK;
  }
};

}  // namespace tapstack::server
