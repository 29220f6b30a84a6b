#include "server/stream_accept_call.h"

#include "server/listener_check.h"
#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

constexpr size_t kStreamAcceptQueue = 256;  // connections taken ahead of the reader

}  // namespace

StreamAcceptCall* StreamAcceptCall::start(Backend& backend, CallLimiter::Slot slot,
                                          const Options& options) {
  auto call = std::make_shared<StreamAcceptCall>(backend, std::move(slot), options);
  call->self_ = call;
  call->stream_->set_reader(call);
  backend.shards.of(options.listener).loop.post([call](Engine& engine) {
    call->registered(engine);
  });
  return call.get();
}

// Connections are taken as they are; closing them waits until they are handed over, so a
// client that already sent its RST or FIN (a load generator, say) is not answered with one more
// segment, and the closes of a batch cost the loop one post.
StreamAcceptCall::StreamAcceptCall(Backend& backend, CallLimiter::Slot slot, const Options& options)
    : backend_(backend),
      slot_(std::move(slot)),
      options_(options),
      stream_(std::make_shared<AcceptStream>(AfterAccept::kKeep, options.max_connections,
                                             kStreamAcceptQueue, true)) {}

void StreamAcceptCall::registered(Engine& engine) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;  // cancelled before the loop got here
  }
  if (Status s = check_listener(engine, options_.listener); !s.is_ok()) {
    finish(to_grpc(s), {});
    return;
  }
  // Every loop of a group fills the one stream with the connections its queue carries.
  Shards& shards = backend_.shards;
  Shard& owner = shards.of(options_.listener);
  owner.hub.add_accept_stream(engine, options_.listener, stream_);
  if (shards.is_group(options_.listener)) {
    for (Shard& s : shards) {
      if (&s == &owner) continue;
      s.loop.post([&hub = s.hub, stream = stream_, id = options_.listener](Engine& replica) {
        hub.add_accept_stream(replica, id, stream);
      });
    }
  }
  {
    std::lock_guard lock(mutex_);
    registered_ = true;
  }
  StartSendInitialMetadata();  // tells the client the stream is registered
  pump(false);
}

void StreamAcceptCall::pump(bool delayed) {
  std::unique_lock lock(mutex_);
  if (delayed) delaying_ = false;
  if (!registered_ || writing_ || delaying_ || finished_) return;
  if (!delayed && options_.max_delay > Duration::zero() && stream_->few_ready()) {
    // Let up to max_delay pass for more connections to join this batch.
    delaying_ = true;
    std::weak_ptr<StreamAcceptCall> weak = weak_from_this();
    // A fresh alarm each time: one that fired may still be returning from its callback.
    delay_ = std::make_unique<grpc::Alarm>();
    delay_->Set(std::chrono::system_clock::now() + options_.max_delay, [weak](bool) {
      if (auto call = weak.lock()) call->pump(true);
    });
    return;
  }
  std::optional<AcceptStream::Batch> batch = stream_->take();
  if (!batch) return;  // ready() comes when there is something
  if (batch->freed_room) {
    for (Shard& s : backend_.shards) {
      s.loop.post([&hub = s.hub, id = options_.listener](Engine& engine) {
        hub.serve_listener(engine, id);
      });
    }
  }
  if (batch->connections.empty()) {
    lock.unlock();
    finish(batch->end.value_or(grpc::Status::OK), {});
    return;
  }
  response_.Clear();
  for (const EndpointInfo& e : batch->connections) to_proto(e, response_.add_connections());
  in_flight_ = std::move(batch->connections);
  end_after_ = batch->end;
  writing_ = true;
  // Under the lock, as in CaptureCall::pump: a cancellation between an unlock and the write
  // could finish the call and free it first. The write's completion never runs inline.
  StartWrite(&response_);
}

void StreamAcceptCall::OnWriteDone(bool ok) {
  std::unique_lock lock(mutex_);
  writing_ = false;
  std::vector<EndpointInfo> written = std::move(in_flight_);
  in_flight_.clear();
  if (!ok) {
    lock.unlock();
    finish({grpc::StatusCode::CANCELLED, "the client went away"}, std::move(written));
    return;
  }
  std::optional<grpc::Status> end = end_after_;
  lock.unlock();
  if (options_.after != AfterAccept::kKeep)
    close_all(written, options_.after == AfterAccept::kAbort);
  if (end) {
    finish(*end, {});
    return;
  }
  pump(false);
}

void StreamAcceptCall::OnCancel() {
  finish({grpc::StatusCode::CANCELLED, "cancelled by the client"}, {});
}

void StreamAcceptCall::finish(const grpc::Status& status, std::vector<EndpointInfo> undelivered) {
  bool first;
  {
    std::lock_guard lock(mutex_);
    first = !std::exchange(finished_, true);
  }
  // Connections taken for a client that went away are closed, not left open unowned (a write
  // that fails after the call ended still hands back its batch here).
  std::vector<EndpointInfo> held = stream_->abandon();
  undelivered.insert(undelivered.end(), held.begin(), held.end());
  close_all(undelivered, options_.after == AfterAccept::kAbort);
  if (first) {  // the hubs forget the stream now, not at the listener's next connection
    for (Shard& s : backend_.shards) {
      s.loop.post([&hub = s.hub, id = options_.listener](Engine&) { hub.prune(id); });
    }
  }
  if (first) Finish(status);
}

void StreamAcceptCall::close_all(const std::vector<EndpointInfo>& connections, bool abort) {
  if (connections.empty()) return;
  // One post per loop that holds some of them.
  std::vector<std::vector<EndpointId>> by_loop(backend_.shards.size());
  for (const EndpointInfo& e : connections) by_loop[backend_.shards.of(e.id).index].push_back(e.id);
  for (Shard& s : backend_.shards) {
    if (by_loop[s.index].empty()) continue;
    s.loop.post([ids = std::move(by_loop[s.index]), abort](Engine& engine) {
      for (EndpointId c : ids) engine.close(c, abort);
    });
  }
}

void StreamAcceptCall::OnDone() {
  slot_ = {};
  auto last = std::move(self_);  // may destroy this; nothing touches it afterwards
}

}  // namespace tapstack::server
