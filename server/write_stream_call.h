// One WriteStream call on gRPC's callback API. One message is read at a time: the next is asked
// for (StartRead) only once the connection's send buffer has taken all of the previous one, so a
// client that writes faster than the peer reads is held back by the send buffer and then by
// gRPC's flow control. The call holds one message (at most kMaxDataMessage).
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <mutex>

#include "server/call_limiter.h"
#include "server/data_waiter.h"
#include "server/shards.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

class WriteStreamCall final : public grpc::ServerReadReactor<v1::WriteStreamRequest>,
                              public DataWaiter,
                              public std::enable_shared_from_this<WriteStreamCall> {
 public:
  // Starts reading the stream; the reactor keeps itself alive until gRPC is done with it.
  static WriteStreamCall* start(Shards& shards, CallLimiter::Slot slot,
                                v1::WriteStreamResponse* response);

  WriteStreamCall(Shards& shards, CallLimiter::Slot slot, v1::WriteStreamResponse* response);

  // Loop thread: writes what is left of the message, and asks for the next once all is taken.
  void retry(Engine& engine) override;
  void end(const grpc::Status& status) override { finish(status); }
  bool waiting() const override;

 private:
  void OnReadDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void finish(const grpc::Status& status);
  // The message's id checked against the stream's (the first message's).
  grpc::Status check_message();

  Shards& shards_;
  Shard* shard_ = nullptr;  // the connection's loop, once the first message named it
  CallLimiter::Slot slot_;
  v1::WriteStreamResponse* const response_;
  std::shared_ptr<WriteStreamCall> self_;  // gRPC's reference, dropped in OnDone
  EndpointId id_ = 0;
  v1::WriteStreamRequest request_;  // the message being written
  size_t offset_ = 0;               // how much of it the send buffer took
  bool tried_ = false;              // loop thread
  mutable std::mutex mutex_;        // orders StartRead before Finish: none follows it
  bool finished_ = false;
};

}  // namespace tapstack::server
