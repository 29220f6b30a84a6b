// grpc.health.v1.Health, served by tapstackd itself: gRPC's built-in service reports SERVING
// from the moment the server starts, and tapstackd must say NOT_SERVING until its TAP is up,
// while its engine loop does not turn (LoopWatchdog), and again as soon as it begins to shut
// down. One status covers the whole daemon ("") and each of its services by name.
//
// On gRPC's callback API. Check is never refused by the call limits (probes must keep working
// under load, and it costs nothing); Watch holds a CallLimiter slot and no thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/call_limiter.h"

namespace tapstack::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService(std::vector<std::string> services, CallLimiter& limiter);

  void set_serving(bool serving);
  // The engine loop's watchdog: NOT_SERVING while the loop does not turn.
  void set_loop_alive(bool alive);
  // NOT_SERVING for good; Watch calls end after telling their clients.
  void shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* request) override;

  class WatchCall;

 private:
  friend class WatchCall;
  bool known(const std::string& service) const;
  // The status a watcher of a known (or unknown) service sees, and whether it is final.
  ServingStatus status(bool is_known, bool& final) const;
  void changed();  // tells every watcher, outside mutex_

  const std::vector<std::string> services_;
  CallLimiter& limiter_;
  mutable std::mutex mutex_;
  bool serving_ = false;
  bool loop_alive_ = true;
  bool shut_down_ = false;
  std::vector<std::weak_ptr<WatchCall>> watchers_;
};

}  // namespace tapstack::server
