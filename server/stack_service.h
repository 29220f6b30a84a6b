// tapstack.v1.Stack: counters, configuration, and run-time tunables. On gRPC's callback API;
// every call finishes inline and holds a CallLimiter slot while it runs.
#pragma once

#include <mutex>

#include "server/backend.h"
#include "tapstack/v1/stack.grpc.pb.h"

namespace tapstack::server {

class StackService final : public v1::Stack::CallbackService {
 public:
  explicit StackService(Backend& backend) : backend_(backend) {}

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const v1::GetStatsRequest* request,
                                     v1::Stats* response) override;
  grpc::ServerUnaryReactor* GetConfig(grpc::CallbackServerContext* ctx,
                                      const v1::GetConfigRequest* request,
                                      v1::Config* response) override;
  grpc::ServerUnaryReactor* UpdateConfig(grpc::CallbackServerContext* ctx,
                                         const v1::UpdateConfigRequest* request,
                                         v1::Config* response) override;
  grpc::ServerUnaryReactor* RotateSynCookieSecret(
      grpc::CallbackServerContext* ctx, const v1::RotateSynCookieSecretRequest* request,
      v1::RotateSynCookieSecretResponse* response) override;

 private:
  // Admits the call, runs `body` (which returns the call's status) and finishes at once.
  template <class Body>
  grpc::ServerUnaryReactor* now(grpc::CallbackServerContext* ctx, Body body);
  grpc::Status stats(v1::Stats* response);
  void fill_config(const TunableConfig& tunable, v1::Config* out) const;

  Backend& backend_;
  std::mutex update_mutex_;  // UpdateConfig: one read-apply-write across the loops at a time
};

}  // namespace tapstack::server
