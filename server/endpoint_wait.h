// Connect and Accept on gRPC's callback API: the call waits, without a thread, for the engine
// loop to complete its EndpointCompletion, and gives up a little before its deadline (see
// give_up_at) or when the client cancels, under the completion's lock, so that the loop never
// hands it a connection it can no longer deliver.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <string>

#include "server/call_limiter.h"
#include "server/event_hub.h"
#include "tapstack/v1/endpoints.pb.h"

namespace tapstack::server {

class EndpointWait final : public grpc::ServerUnaryReactor {
 public:
  // `waited_for` completes the DEADLINE_EXCEEDED message ("the call's deadline passed ...");
  // `after_giving_up` runs once the call has given up (Accept forgets its place in the queue).
  EndpointWait(const grpc::CallbackServerContext& ctx, v1::Endpoint* response,
               CallLimiter::Slot slot, std::string waited_for,
               std::function<void()> after_giving_up);

  // Register this with the hub (on the loop thread); complete it with an error to refuse.
  const std::shared_ptr<EndpointCompletion>& completion() const { return done_; }

 private:
  void OnCancel() override { done_->give_up(WaitEnd::kCancelled); }
  void OnDone() override { delete this; }

  v1::Endpoint* const response_;
  CallLimiter::Slot slot_;
  const std::string waited_for_;
  const std::function<void()> after_giving_up_;
  std::shared_ptr<EndpointCompletion> done_;
  grpc::Alarm deadline_;
};

}  // namespace tapstack::server
