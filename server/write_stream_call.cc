#include "server/write_stream_call.h"

#include <string>

#include "server/data_io.h"

namespace tapstack::server {

WriteStreamCall* WriteStreamCall::start(Shards& shards, CallLimiter::Slot slot,
                                        v1::WriteStreamResponse* response) {
  auto call = std::make_shared<WriteStreamCall>(shards, std::move(slot), response);
  call->self_ = call;
  call->StartRead(&call->request_);
  return call.get();
}

WriteStreamCall::WriteStreamCall(Shards& shards, CallLimiter::Slot slot,
                                 v1::WriteStreamResponse* response)
    : shards_(shards), slot_(std::move(slot)), response_(response) {}

bool WriteStreamCall::waiting() const {
  std::lock_guard lock(mutex_);
  return !finished_;
}

grpc::Status WriteStreamCall::check_message() {
  if (id_ == 0) {
    if (request_.id() == 0) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the first message needs the id"};
    }
    id_ = request_.id();
    shard_ = &shards_.of(id_);
  } else if (request_.id() != 0 && request_.id() != id_) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "the stream writes endpoint " +
                                                    std::to_string(id_) + ", not " +
                                                    std::to_string(request_.id())};
  }
  if (request_.data().size() > kMaxDataMessage) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "a message carries at most " + std::to_string(kMaxDataMessage) + " bytes, not " +
                std::to_string(request_.data().size())};
  }
  return grpc::Status::OK;
}

void WriteStreamCall::OnReadDone(bool ok) {
  if (!ok) {  // the client ended its side, and all it sent was taken
    finish(grpc::Status::OK);
    return;
  }
  if (grpc::Status s = check_message(); !s.ok()) {
    finish(s);
    return;
  }
  offset_ = 0;
  shard_->loop.post([self = shared_from_this()](Engine& engine) { self->retry(engine); });
}

void WriteStreamCall::retry(Engine& engine) {
  if (!waiting()) return;
  const std::string& data = request_.data();
  while (offset_ < data.size()) {
    auto rest =
        std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()).subspan(offset_);
    auto n = engine.write(id_, rest);
    bool waited = std::exchange(tried_, true);
    if (!n.is_ok() && !would_block(n.status())) {
      finish(data_status(n.status(), id_, waited));
      return;
    }
    if (!n.is_ok() || *n == 0) {
      shard_->hub.wait_data(id_, shared_from_this());
      return;
    }
    offset_ += *n;
    response_->set_bytes_written(response_->bytes_written() + *n);
  }
  std::lock_guard lock(mutex_);
  if (!finished_) StartRead(&request_);  // its completion never runs inline
}

void WriteStreamCall::OnCancel() {
  finish({grpc::StatusCode::CANCELLED, "cancelled by the client"});
}

void WriteStreamCall::finish(const grpc::Status& status) {
  {
    std::lock_guard lock(mutex_);
    if (std::exchange(finished_, true)) return;
  }
  if (shard_) shard_->loop.post([&hub = shard_->hub, id = id_](Engine&) { hub.prune_data(id); });
  Finish(status);
}

void WriteStreamCall::OnDone() {
  slot_ = {};
  auto last = std::move(self_);  // may destroy this; nothing touches it afterwards
}

}  // namespace tapstack::server
