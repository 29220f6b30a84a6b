#include "server/endpoint_wait.h"

#include "server/proto_convert.h"

namespace tapstack::server {

EndpointWait::EndpointWait(const grpc::CallbackServerContext& ctx, v1::Endpoint* response,
                           CallLimiter::Slot slot, std::string waited_for,
                           std::function<void()> after_giving_up)
    : response_(response),
      slot_(std::move(slot)),
      waited_for_(std::move(waited_for)),
      after_giving_up_(std::move(after_giving_up)) {
  // Whichever of the two callbacks wins runs once; after it, gRPC may destroy the reactor.
  done_ = std::make_shared<EndpointCompletion>(
      [this](EndpointOutcome outcome) {
        if (outcome.status.ok()) to_proto(outcome.endpoint, response_);
        Finish(outcome.status);
      },
      [this](WaitEnd why) {
        if (after_giving_up_) after_giving_up_();
        if (why == WaitEnd::kCancelled) {
          Finish({grpc::StatusCode::CANCELLED, "cancelled by the client"});
        } else {
          Finish(
              {grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed " + waited_for_});
        }
      });
  if (auto at = give_up_at(ctx)) {
    // The alarm holds the completion, not the reactor: it may fire after the call is gone.
    deadline_.Set(*at, [done = done_](bool fired) {
      if (fired) done->give_up(WaitEnd::kDeadline);
    });
  }
}

}  // namespace tapstack::server
