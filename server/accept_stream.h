// One StreamAccept call (or the daemon's demo listener). The engine loop takes connections
// from the listener's accept queue only while the stream has room, so a slow reader leaves
// them in the engine's queue, where the backlog applies, and none is ever dropped here.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "server/rpc_wait.h"
#include "stack/clock.h"
#include "stack/endpoint_info.h"

namespace tapstack::server {

enum class AfterAccept { kKeep, kClose, kAbort };

class AcceptStream {
 public:
  // `max_connections` 0 is unlimited. Without `deliver` (the demo listener) connections are
  // taken (and closed, per `after`) without being queued for anyone.
  AcceptStream(AfterAccept after, uint64_t max_connections, size_t capacity, bool deliver)
      : after_(after), max_(max_connections), capacity_(capacity), deliver_(deliver) {}

  AfterAccept after() const { return after_; }

  // Loop thread. Calls `take()` -- which takes one connection from the accept queue and returns
  // its snapshot, or nullopt when the queue is empty -- while the stream has room. False once
  // the stream wants no more connections at all.
  template <class Take>
  bool fill(Take&& take) {
    std::lock_guard lock(mutex_);
    if (abandoned_ || end_) return false;
    bool took = false;
    while ((!deliver_ || ready_.size() < capacity_) && (max_ == 0 || taken_ < max_)) {
      std::optional<EndpointInfo> info = take();
      if (!info) break;
      ++taken_;
      took = true;
      if (deliver_) ready_.push_back(std::move(*info));
    }
    if (took) cv_.notify_one();
    return max_ == 0 || taken_ < max_;
  }

  // Loop thread: no more connections (the listener is gone, or the daemon stops).
  void end(const grpc::Status& status);

  struct Batch {
    std::vector<EndpointInfo> connections;
    bool freed_room = false;          // the stream was full: the loop should look again
    std::optional<grpc::Status> end;  // set: finish the call after this batch
  };
  // RPC thread. Waits for connections or the end of the stream; once one is there, lets up
  // to `max_delay` pass for more to join it (asleep, so the loop's notifications cost nothing).
  WaitEnd next(grpc::ServerContext& ctx, Batch& out, Duration max_delay = {});
  // RPC thread, after the client went away: takes no more connections and returns those
  // taken but not delivered.
  std::vector<EndpointInfo> abandon();

 private:
  bool finished() const { return end_.has_value() || (max_ != 0 && taken_ >= max_); }

  const AfterAccept after_;
  const uint64_t max_;
  const size_t capacity_;
  const bool deliver_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<EndpointInfo> ready_;
  uint64_t taken_ = 0;
  std::optional<grpc::Status> end_;
  bool abandoned_ = false;
};

}  // namespace tapstack::server
