// One WatchEvents call, on gRPC's callback API: it costs no thread while it waits. It reads the
// shared EventLog from its own cursor, one write at a time: a client that does not read stalls
// only its own stream (HTTP/2 flow control), and its cursor falls behind until the log or its
// queue limit drops events for it, which it is told about (EventsLost).
#pragma once

#include <grpcpp/support/server_callback.h>

#include <deque>
#include <memory>
#include <mutex>

#include "server/call_limiter.h"
#include "server/event_log.h"
#include "stack/engine_loop.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

class Watcher final : public grpc::ServerWriteReactor<v1::WatchEventsResponse>,
                      public EventLog::Reader,
                      public std::enable_shared_from_this<Watcher> {
 public:
  // Starts the watch: registers with `log` on the loop thread, then sends the initial metadata
  // (so that a client knows every event from then on will reach it) and streams events. The
  // reactor keeps itself alive until gRPC is done with it.
  static Watcher* start(EngineLoop& loop, EventLog& log, CallLimiter::Slot slot, EndpointId filter,
                        size_t limit);

  Watcher(EventLog& log, CallLimiter::Slot slot) : log_(log), slot_(std::move(slot)) {}

  void resume() override { pump(); }

 private:
  void attach(EndpointId filter, size_t limit);  // loop thread
  // Writes the next item if none is being written; reads the log for more if needed.
  void pump();
  // Ends the call with `status` unless it has ended already. Called without mutex_.
  void finish(const grpc::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  EventLog& log_;
  CallLimiter::Slot slot_;
  std::shared_ptr<Watcher> self_;  // gRPC's reference, dropped in OnDone
  std::mutex mutex_;
  WatchCursor cursor_;
  std::deque<WatchItem> items_;  // read from the log, not yet written
  v1::WatchEventsResponse response_;
  bool attached_ = false;
  bool writing_ = false;
  bool finished_ = false;
};

}  // namespace tapstack::server
