// One WatchEvents call's queue. The engine loop pushes events; the RPC thread takes them in
// batches. The queue is bounded: when it is full, events are dropped and counted, and the
// watcher is told how many it lost at the point where they went missing.
#pragma once

#include <grpcpp/server_context.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "server/rpc_wait.h"
#include "stack/endpoint_info.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

struct WatchedEvent {
  uint64_t sequence = 0;
  v1::EndpointEvent::Kind kind = v1::EndpointEvent::KIND_UNSPECIFIED;
  EndpointId endpoint = 0;
  EndpointId listener = 0;
  TcpState state = TcpState::kInitial;
  Duration handshake_duration{};
};

class Watcher {
 public:
  // An event, or (lost > 0) a note that `lost` events were dropped here.
  struct Item {
    WatchedEvent event;
    uint64_t lost = 0;
  };

  // `filter`: only events about this endpoint or this listener's connections; 0 for all.
  Watcher(EndpointId filter, size_t limit) : filter_(filter), limit_(limit) {}

  // Loop thread.
  bool wants(const WatchedEvent& e) const {
    return filter_ == 0 || e.endpoint == filter_ || e.listener == filter_;
  }
  void push(const WatchedEvent& e);
  // No more events will come; the call ends once the queue is drained.
  void close();

  // RPC thread: waits for items and moves them into `out`. kReady with `out` empty means the
  // watch is over.
  WaitEnd next(grpc::ServerContext& ctx, std::vector<Item>& out);

 private:
  const EndpointId filter_;
  const size_t limit_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t queued_events_ = 0;   // items in queue_ that are events, not loss notes
  uint64_t pending_lost_ = 0;  // dropped since the last item queued
  bool closed_ = false;
};

}  // namespace tapstack::server
