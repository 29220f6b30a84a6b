#include "server/read_stream_call.h"

#include "server/data_io.h"

namespace tapstack::server {

ReadStreamCall* ReadStreamCall::start(Shards& shards, CallLimiter::Slot slot, EndpointId id,
                                      size_t message_bytes) {
  Shard& shard = shards.of(id);
  auto call = std::make_shared<ReadStreamCall>(shard, std::move(slot), id, message_bytes);
  call->self_ = call;
  shard.loop.post([call](Engine& engine) { call->retry(engine); });
  return call.get();
}

ReadStreamCall::ReadStreamCall(Shard& shard, CallLimiter::Slot slot, EndpointId id,
                               size_t message_bytes)
    : shard_(shard), slot_(std::move(slot)), id_(id), message_bytes_(message_bytes) {}

bool ReadStreamCall::waiting() const {
  std::lock_guard lock(mutex_);
  return !finished_;
}

void ReadStreamCall::retry(Engine& engine) {
  if (!waiting()) return;
  std::span<uint8_t> buffer = read_buffer(message_bytes_);
  auto n = engine.read(id_, buffer);
  bool waited = std::exchange(tried_, true);
  if (!n.is_ok()) {
    if (would_block(n.status())) {
      shard_.hub.wait_data(id_, shared_from_this());
    } else {
      finish(data_status(n.status(), id_, waited));
    }
    return;
  }
  if (*n == 0) {  // end of stream, after every message before it was written
    finish(grpc::Status::OK);
    return;
  }
  // Bytes read after the client went away are lost with it, as a closed socket's are.
  std::lock_guard lock(mutex_);
  if (finished_) return;
  response_.set_data(buffer.data(), *n);
  StartWrite(&response_);  // its completion never runs inline: holding the lock is safe
}

void ReadStreamCall::OnWriteDone(bool ok) {
  if (!ok) {
    finish({grpc::StatusCode::CANCELLED, "the client went away"});
    return;
  }
  shard_.loop.post([self = shared_from_this()](Engine& engine) { self->retry(engine); });
}

void ReadStreamCall::OnCancel() {
  finish({grpc::StatusCode::CANCELLED, "cancelled by the client"});
}

void ReadStreamCall::finish(const grpc::Status& status) {
  {
    std::lock_guard lock(mutex_);
    if (std::exchange(finished_, true)) return;
  }
  shard_.loop.post([&hub = shard_.hub, id = id_](Engine&) { hub.prune_data(id); });
  Finish(status);
}

void ReadStreamCall::OnDone() {
  slot_ = {};
  auto last = std::move(self_);  // may destroy this; nothing touches it afterwards
}

}  // namespace tapstack::server
