// Read and Write on gRPC's callback API. The call's operation runs on the connection's engine
// loop; while it would block, the call waits, without a thread, for the connection's next event
// (EventHub::wait_data) and tries again, until it is done, its deadline passes (it gives up a
// little before, see give_up_at) or the client cancels. Trying and giving up take one lock
// (Completion), so a Read takes bytes from the receive buffer only for a caller that still
// waits, and a Write's count is final once it has given up.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <optional>

#include "server/call_limiter.h"
#include "server/completion.h"
#include "server/data_waiter.h"
#include "server/shards.h"

namespace tapstack::server {

class DataWait final : public grpc::ServerUnaryReactor {
 public:
  // Loop thread: one try of the operation. The call's status once it is done; nullopt while it
  // would block. `waited`: an earlier try found the endpoint (see data_status).
  using Attempt = std::function<std::optional<grpc::Status>(Engine& engine, bool waited)>;
  // What the call answers when it gives up (a Write that took some bytes answers OK).
  using GiveUp = std::function<grpc::Status(WaitEnd why)>;

  // Starts the first try on `id`'s loop; the reactor deletes itself when gRPC is done with it.
  static DataWait* start(const grpc::CallbackServerContext& ctx, CallLimiter::Slot slot,
                         Shards& shards, EndpointId id, Attempt attempt, GiveUp give_up);

 private:
  class Tries;  // the loop's side: a DataWaiter

  DataWait(CallLimiter::Slot slot, GiveUp give_up);
  void OnCancel() override;
  void OnDone() override { delete this; }

  CallLimiter::Slot slot_;
  const GiveUp give_up_;
  std::shared_ptr<Tries> tries_;
  grpc::Alarm deadline_;
};

}  // namespace tapstack::server
