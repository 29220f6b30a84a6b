// One StreamAccept call on gRPC's callback API: no thread waits for connections. The loop fills
// the call's AcceptStream and wakes it; the call writes one batch at a time, so a client that
// does not read keeps at most one batch in flight and the rest in the engine's accept queue.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <mutex>

#include "server/accept_stream.h"
#include "server/backend.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

class StreamAcceptCall final : public grpc::ServerWriteReactor<v1::StreamAcceptResponse>,
                               public AcceptStream::Reader,
                               public std::enable_shared_from_this<StreamAcceptCall> {
 public:
  struct Options {
    EndpointId listener = 0;
    AfterAccept after = AfterAccept::kKeep;
    uint64_t max_connections = 0;
    Duration max_delay{};
  };
  // Registers the stream on `options.listener` (from the loop thread) and serves it; the
  // reactor keeps itself alive until gRPC is done with it.
  static StreamAcceptCall* start(Backend& backend, CallLimiter::Slot slot, const Options& options);

  StreamAcceptCall(Backend& backend, CallLimiter::Slot slot, const Options& options);

  void ready() override { pump(false); }

 private:
  void registered(Engine& engine);  // loop thread
  // Writes the next batch if none is in flight; `delayed`: max_delay has passed.
  void pump(bool delayed);
  void close_all(const std::vector<EndpointInfo>& connections, bool abort);
  // Ends the call unless it has ended; closes `undelivered` and what the stream still holds.
  void finish(const grpc::Status& status, std::vector<EndpointInfo> undelivered);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  Backend& backend_;
  CallLimiter::Slot slot_;
  const Options options_;
  std::shared_ptr<AcceptStream> stream_;
  std::shared_ptr<StreamAcceptCall> self_;  // gRPC's reference, dropped in OnDone
  std::unique_ptr<grpc::Alarm> delay_;      // guarded by mutex_
  std::mutex mutex_;
  v1::StreamAcceptResponse response_;
  std::vector<EndpointInfo> in_flight_;    // the batch being written
  std::optional<grpc::Status> end_after_;  // finish once the batch in flight is written
  bool registered_ = false;
  bool writing_ = false;
  bool delaying_ = false;
  bool finished_ = false;
};

}  // namespace tapstack::server
