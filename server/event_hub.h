// The engine loop's side of the control plane: it receives every engine event and routes it
// to whoever waits for it -- Connect calls waiting for their handshake, Accept calls and
// accept streams waiting on a listener, the handshake histogram -- and appends it once to the
// EventLog that WatchEvents watchers read (the loop never visits a watcher).
//
// It belongs to the loop thread: every method runs there (through EngineLoop::post or call),
// so its tables need no lock. The RPC side of each wait (Completion, AcceptStream, EventLog)
// has its own small lock. Events are only recorded while the engine is inside a call; acting
// on them (which may call into the engine: accept, query, close) happens in a dispatch the hub
// posts to the loop, after the engine call has returned.
#pragma once

#include <grpcpp/support/status.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/accept_stream.h"
#include "server/completion.h"
#include "server/data_waiter.h"
#include "server/event_log.h"
#include "server/handshake_histogram.h"
#include "stack/engine_loop.h"

namespace tapstack::server {

// What Connect and Accept wait for: a status, and the endpoint when it is OK.
struct EndpointOutcome {
  grpc::Status status;
  EndpointInfo endpoint;
};
using EndpointCompletion = Completion<EndpointOutcome>;

class EventHub {
 public:
  EventHub(EngineLoop& loop, HandshakeHistogram& histogram, EventLog& log);
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Before loop.start(): becomes the loop's event handler.
  void attach();
  // Before loop.start(), with several loops: which endpoints' events this hub publishes to the
  // log (a replica's are its group's, which its own loop publishes). Unset: all.
  void set_publishes(std::function<bool(EndpointId)> publishes) {
    publishes_ = std::move(publishes);
  }

  // --- Loop thread only, from here on.

  // Completes `done` when `id`'s handshake ends: established, refused, timed out or closed.
  void watch_connect(EndpointId id, std::string peer, std::shared_ptr<EndpointCompletion> done);
  // Queues an Accept on `listener` (checked to be one) and serves it at once if it can.
  void add_accept(Engine& engine, EndpointId listener, std::shared_ptr<EndpointCompletion> done);
  void add_accept_stream(Engine& engine, EndpointId listener, std::shared_ptr<AcceptStream> stream);
  // Hands connections waiting in `listener`'s accept queue to its Accepts, then its streams.
  void serve_listener(Engine& engine, EndpointId listener);
  // Forgets Accepts and streams on `listener` whose callers gave up.
  void prune(EndpointId listener);
  // Accepts still waiting on `listener`, and its streams.
  uint32_t accept_waiters(EndpointId listener) const;

  // Calls waiter->retry() once, after the next event about connection `id`: a Read, Write or
  // stream whose operation would block waits so (see DataWaiter). After shutdown() the waiter
  // is ended at once.
  void wait_data(EndpointId id, std::shared_ptr<DataWaiter> waiter);
  // Wakes `id`'s data waiters now: a call closed it (its release may come much later, after
  // the FIN exchange), and they should learn that it is gone.
  void wake_data(Engine& engine, EndpointId id);
  // Forgets `id`'s data waiters that have ended.
  void prune_data(EndpointId id);

  // Ends every watch (after what the log holds for it).
  void close_watchers() { log_.close(); }

  // Ends every Connect, Accept, data waiter and stream with `status` and refuses new ones. From
  // then on the hub follows connections the daemon closes, for when_fins_acked.
  void shutdown(const grpc::Status& status);
  // Calls `done` once no connection is left waiting for its FIN to be acknowledged (FIN-WAIT-1,
  // CLOSING, LAST-ACK); at once if none is. Only after shutdown().
  void when_fins_acked(std::function<void()> done);

 private:
  struct ConnectWait {
    std::string peer;
    std::shared_ptr<EndpointCompletion> done;
  };
  struct ListenerWaits {
    std::deque<std::shared_ptr<EndpointCompletion>> accepts;
    std::vector<std::shared_ptr<AcceptStream>> streams;
  };

  void on_event(const Event& event);  // inside the engine: record, do not call it
  void dispatch(Engine& engine);
  void finish_connect(Engine& engine, const Event& event);
  void listener_released(EndpointId listener);
  // Takes one connection from `listener`'s accept queue: its snapshot, or nullopt if none.
  std::optional<EndpointInfo> take(Engine& engine, EndpointId listener, AfterAccept after);
  void publish(const WatchedEvent& event);
  void track_fin(const Event& event);

  EngineLoop& loop_;
  HandshakeHistogram& histogram_;
  EventLog& log_;
  std::vector<Event> pending_;
  // pending_'s events while dispatch() runs; kept, with its capacity, for the next one.
  std::vector<Event> dispatching_;
  bool dispatch_posted_ = false;
  std::unordered_map<EndpointId, ConnectWait> connects_;
  std::unordered_map<EndpointId, ListenerWaits> listeners_;
  std::unordered_map<EndpointId, std::vector<std::shared_ptr<DataWaiter>>> data_;
  std::optional<grpc::Status> shut_down_;
  std::unordered_set<EndpointId> fin_pending_;
  std::function<void()> fins_acked_;
  std::function<bool(EndpointId)> publishes_;
};

}  // namespace tapstack::server
