// A call (or the demo listener's session) that waits for a connection's next event because
// its read or write would block (server/event_hub.h, EventHub::wait_data). Events are
// edge-triggered, so a waiter always tries first and registers, in the same loop turn, only
// when the engine said kWouldBlock: no event can slip by in between.
#pragma once

#include <grpcpp/support/status.h>

namespace tapstack {
class Engine;
}

namespace tapstack::server {

class DataWaiter {
 public:
  virtual ~DataWaiter() = default;
  // Loop thread: the connection had an event (data or end of stream readable, send buffer room,
  // reset, a state change, closed): try again, and wait again if it still would block.
  virtual void retry(Engine& engine) = 0;
  // Loop thread: the daemon stops; no event will come.
  virtual void end(const grpc::Status& status) = 0;
  // False once the waiter has ended (its call finished): the hub forgets it.
  virtual bool waiting() const = 0;
};

}  // namespace tapstack::server
