// tapstack.v1.Stack: counters, configuration, and run-time tunables.
#pragma once

#include "server/backend.h"
#include "tapstack/v1/stack.grpc.pb.h"

namespace tapstack::server {

class StackService final : public v1::Stack::Service {
 public:
  explicit StackService(Backend& backend) : backend_(backend) {}

  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* request,
                        v1::Stats* response) override;
  grpc::Status GetConfig(grpc::ServerContext* ctx, const v1::GetConfigRequest* request,
                         v1::Config* response) override;
  grpc::Status UpdateConfig(grpc::ServerContext* ctx, const v1::UpdateConfigRequest* request,
                            v1::Config* response) override;
  grpc::Status RotateSynCookieSecret(grpc::ServerContext* ctx,
                                     const v1::RotateSynCookieSecretRequest* request,
                                     v1::RotateSynCookieSecretResponse* response) override;

 private:
  void fill_config(const TunableConfig& tunable, v1::Config* out) const;

  Backend& backend_;
};

}  // namespace tapstack::server
