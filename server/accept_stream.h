// One StreamAccept call's queue (or the daemon's demo listener's). The engine loop takes
// connections from the listener's accept queue only while the stream has room, so a slow reader
// leaves them in the engine's queue, where the backlog applies, and none is ever dropped here.
// The reader (a callback reactor) takes what is ready without waiting; when nothing is, it is
// told (Reader::ready, from the loop thread) once something is.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "stack/endpoint_info.h"

namespace tapstack::server {

enum class AfterAccept { kKeep, kClose, kAbort };

class AcceptStream {
 public:
  class Reader {
   public:
    virtual ~Reader() = default;
    virtual void ready() = 0;
  };

  // `max_connections` 0 is unlimited. Without `deliver` (the demo listener) connections are
  // taken (and closed, per `after`) without being queued for anyone.
  AcceptStream(AfterAccept after, uint64_t max_connections, size_t capacity, bool deliver)
      : after_(after), max_(max_connections), capacity_(capacity), deliver_(deliver) {}

  AfterAccept after() const { return after_; }
  void set_reader(std::weak_ptr<Reader> reader) { reader_ = std::move(reader); }

  // Loop thread. Calls `take()` -- which takes one connection from the accept queue and returns
  // its snapshot, or nullopt when the queue is empty -- while the stream has room. False once
  // the stream wants no more connections at all.
  template <class Take>
  bool fill(Take&& take) {
    std::unique_lock lock(mutex_);
    if (abandoned_ || end_) return false;
    bool took = false;
    while ((!deliver_ || ready_.size() < capacity_) && (max_ == 0 || taken_ < max_)) {
      std::optional<EndpointInfo> info = take();
      if (!info) break;
      ++taken_;
      took = true;
      if (deliver_) ready_.push_back(std::move(*info));
    }
    bool more = max_ == 0 || taken_ < max_;
    if (took) wake(lock);
    return more;
  }

  // Loop thread: no more connections (the listener is gone, or the daemon stops).
  void end(const grpc::Status& status);

  struct Batch {
    std::vector<EndpointInfo> connections;
    bool freed_room = false;          // the stream was full: the loop should look again
    std::optional<grpc::Status> end;  // set: finish the call after this batch
  };
  // Reader: what is ready, or nullopt (and Reader::ready() once there is something).
  std::optional<Batch> take();
  // Reader: connections are ready, but so few that waiting a little for more is worth it.
  bool few_ready() const;
  // Reader, after the client went away: takes no more connections and returns those taken but
  // not delivered.
  std::vector<EndpointInfo> abandon();
  bool abandoned() const {
    std::lock_guard lock(mutex_);
    return abandoned_;
  }

 private:
  bool finished() const { return end_.has_value() || (max_ != 0 && taken_ >= max_); }
  // Tells a waiting reader, outside the lock.
  void wake(std::unique_lock<std::mutex>& lock);

  const AfterAccept after_;
  const uint64_t max_;
  const size_t capacity_;
  const bool deliver_;
  std::weak_ptr<Reader> reader_;  // set before the stream is registered
  mutable std::mutex mutex_;
  std::vector<EndpointInfo> ready_;
  uint64_t taken_ = 0;
  std::optional<grpc::Status> end_;
  bool abandoned_ = false;
  bool reader_waits_ = false;
};

}  // namespace tapstack::server
