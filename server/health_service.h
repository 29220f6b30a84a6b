// grpc.health.v1.Health, served by tapstackd itself: gRPC's built-in service reports SERVING
// from the moment the server starts, and tapstackd must say NOT_SERVING until its TAP is up
// and again as soon as it begins to shut down. One status covers the whole daemon ("") and
// each of its services by name.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace tapstack::server {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthService(std::vector<std::string> services);

  void set_serving(bool serving);
  // NOT_SERVING for good; Watch calls end after telling their clients.
  void shutdown();

  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  bool known(const std::string& service) const;
  grpc::health::v1::HealthCheckResponse::ServingStatus status_locked() const;

  const std::vector<std::string> services_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool serving_ = false;
  bool shut_down_ = false;
  uint64_t version_ = 0;  // bumped on every change, so a watcher sees each one
};

}  // namespace tapstack::server
