// One ReadStream call on gRPC's callback API. One message is in flight at a time: the loop
// reads the next message's bytes only once gRPC has taken the previous one (OnWriteDone), so a
// client that reads slowly leaves the bytes in the connection's receive buffer, the buffer fills
// and TCP's receive window closes. The call holds one message (at most kMaxDataMessage).
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <mutex>

#include "server/call_limiter.h"
#include "server/data_waiter.h"
#include "server/shards.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

class ReadStreamCall final : public grpc::ServerWriteReactor<v1::ReadStreamResponse>,
                             public DataWaiter,
                             public std::enable_shared_from_this<ReadStreamCall> {
 public:
  // Starts reading `id`; the reactor keeps itself alive until gRPC is done with it.
  static ReadStreamCall* start(Shards& shards, CallLimiter::Slot slot, EndpointId id,
                               size_t message_bytes);

  ReadStreamCall(Shard& shard, CallLimiter::Slot slot, EndpointId id, size_t message_bytes);

  // Loop thread: reads what is there and writes it as the next message, or waits for it.
  void retry(Engine& engine) override;
  void end(const grpc::Status& status) override { finish(status); }
  bool waiting() const override;

 private:
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  // Ends the call unless it has ended.
  void finish(const grpc::Status& status);

  Shard& shard_;
  CallLimiter::Slot slot_;
  const EndpointId id_;
  const size_t message_bytes_;
  std::shared_ptr<ReadStreamCall> self_;  // gRPC's reference, dropped in OnDone
  bool tried_ = false;                    // loop thread
  v1::ReadStreamResponse response_;       // the message in flight
  mutable std::mutex mutex_;              // orders StartWrite before Finish: none follows it
  bool finished_ = false;
};

}  // namespace tapstack::server
