#include "server/health_service.h"

#include <algorithm>

#include "server/rpc_wait.h"

namespace tapstack::server {

using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(std::vector<std::string> services) : services_(std::move(services)) {}

bool HealthService::known(const std::string& service) const {
  return service.empty() ||
         std::find(services_.begin(), services_.end(), service) != services_.end();
}

HealthCheckResponse::ServingStatus HealthService::status_locked() const {
  return serving_ && !shut_down_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

void HealthService::set_serving(bool serving) {
  std::lock_guard lock(mutex_);
  if (shut_down_ || serving_ == serving) return;
  serving_ = serving;
  ++version_;
  changed_.notify_all();
}

void HealthService::shutdown() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  ++version_;
  changed_.notify_all();
}

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  if (!known(request->service())) {
    return {grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"};
  }
  std::lock_guard lock(mutex_);
  response->set_status(status_locked());
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  const bool is_known = known(request->service());
  std::unique_lock lock(mutex_);
  uint64_t seen = version_;
  while (true) {
    HealthCheckResponse response;
    response.set_status(is_known ? status_locked() : HealthCheckResponse::SERVICE_UNKNOWN);
    bool over = shut_down_;
    lock.unlock();
    if (!writer->Write(response) || over) return grpc::Status::OK;
    lock.lock();
    WaitEnd end =
        wait_for_rpc(changed_, lock, *ctx, rpc_deadline(*ctx), [&] { return version_ != seen; });
    if (end != WaitEnd::kReady) return grpc::Status::CANCELLED;
    seen = version_;
  }
}

}  // namespace tapstack::server
