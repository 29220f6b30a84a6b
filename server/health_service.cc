#include "server/health_service.h"

#include <algorithm>

#include "server/finished_stream.h"

namespace tapstack::server {

using grpc::health::v1::HealthCheckResponse;

// One Watch call: writes the status whenever it differs from what it last wrote.
class HealthService::WatchCall final : public grpc::ServerWriteReactor<HealthCheckResponse>,
                                       public std::enable_shared_from_this<WatchCall> {
 public:
  WatchCall(HealthService& service, bool is_known, CallLimiter::Slot slot)
      : service_(service), known_(is_known), slot_(std::move(slot)) {}

  void start(std::shared_ptr<WatchCall> self) {
    self_ = std::move(self);
    pump();
  }

  void pump() {
    std::unique_lock lock(mutex_);
    if (writing_ || finished_) return;
    bool final = false;
    ServingStatus now = service_.status(known_, final);
    if (written_ && now == last_) {
      if (!final) return;
      finished_ = true;
      lock.unlock();
      Finish(grpc::Status::OK);
      return;
    }
    response_.set_status(now);
    last_ = now;
    written_ = writing_ = true;
    lock.unlock();
    StartWrite(&response_);
  }

 private:
  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
    }
    if (ok) {
      pump();
    } else {
      end(grpc::Status::CANCELLED);
    }
  }
  void OnCancel() override { end(grpc::Status::CANCELLED); }
  void OnDone() override {
    slot_ = {};
    auto last = std::move(self_);  // may destroy this
  }
  void end(const grpc::Status& status) {
    {
      std::lock_guard lock(mutex_);
      if (std::exchange(finished_, true)) return;
    }
    Finish(status);
  }

  HealthService& service_;
  const bool known_;
  CallLimiter::Slot slot_;
  std::shared_ptr<WatchCall> self_;
  std::mutex mutex_;
  HealthCheckResponse response_;
  ServingStatus last_ = HealthCheckResponse::UNKNOWN;
  bool written_ = false;
  bool writing_ = false;
  bool finished_ = false;
};

HealthService::HealthService(std::vector<std::string> services, CallLimiter& limiter)
    : services_(std::move(services)), limiter_(limiter) {}

bool HealthService::known(const std::string& service) const {
  return service.empty() ||
         std::find(services_.begin(), services_.end(), service) != services_.end();
}

HealthService::ServingStatus HealthService::status(bool is_known, bool& final) const {
  std::lock_guard lock(mutex_);
  final = shut_down_;
  if (!is_known) return HealthCheckResponse::SERVICE_UNKNOWN;
  return serving_ && loop_alive_ && !shut_down_ ? HealthCheckResponse::SERVING
                                                : HealthCheckResponse::NOT_SERVING;
}

void HealthService::set_serving(bool serving) {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_ || serving_ == serving) return;
    serving_ = serving;
  }
  changed();
}

void HealthService::set_loop_alive(bool alive) {
  {
    std::lock_guard lock(mutex_);
    if (loop_alive_ == alive) return;
    loop_alive_ = alive;
  }
  changed();
}

void HealthService::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
  }
  changed();
}

void HealthService::changed() {
  std::vector<std::shared_ptr<WatchCall>> live;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(watchers_, [](const auto& w) { return w.expired(); });
    for (const auto& w : watchers_) {
      if (auto call = w.lock()) live.push_back(std::move(call));
    }
  }
  for (const auto& call : live) call->pump();
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const grpc::health::v1::HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!known(request->service())) {
    reactor->Finish({grpc::StatusCode::NOT_FOUND, "unknown service '" + request->service() + "'"});
    return reactor;
  }
  bool final = false;
  response->set_status(status(true, final));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* request) {
  CallLimiter::Slot slot = limiter_.admit(*ctx);
  if (!slot.ok()) return finished_stream<HealthCheckResponse>(slot.status());
  auto call = std::make_shared<WatchCall>(*this, known(request->service()), std::move(slot));
  {
    std::lock_guard lock(mutex_);
    std::erase_if(watchers_, [](const auto& w) { return w.expired(); });
    watchers_.push_back(call);
  }
  WatchCall* reactor = call.get();
  reactor->start(std::move(call));
  return reactor;
}

}  // namespace tapstack::server
