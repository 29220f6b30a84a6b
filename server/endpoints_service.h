// tapstack.v1.Endpoints: endpoint commands run on the engine loop (EngineLoop::call); the
// calls that wait (Connect, Accept, StreamAccept, WatchEvents) register with the EventHub and
// wait on their own small completion, bounded by the call's deadline.
#pragma once

#include "server/backend.h"
#include "tapstack/v1/endpoints.grpc.pb.h"

namespace tapstack::server {

class EndpointsService final : public v1::Endpoints::Service {
 public:
  explicit EndpointsService(Backend& backend) : backend_(backend) {}

  grpc::Status CreateEndpoint(grpc::ServerContext* ctx, const v1::CreateEndpointRequest* request,
                              v1::Endpoint* response) override;
  grpc::Status GetEndpoint(grpc::ServerContext* ctx, const v1::GetEndpointRequest* request,
                           v1::Endpoint* response) override;
  grpc::Status ListEndpoints(grpc::ServerContext* ctx, const v1::ListEndpointsRequest* request,
                             v1::ListEndpointsResponse* response) override;
  grpc::Status Bind(grpc::ServerContext* ctx, const v1::BindRequest* request,
                    v1::Endpoint* response) override;
  grpc::Status Listen(grpc::ServerContext* ctx, const v1::ListenRequest* request,
                      v1::Endpoint* response) override;
  grpc::Status Connect(grpc::ServerContext* ctx, const v1::ConnectRequest* request,
                       v1::Endpoint* response) override;
  grpc::Status Accept(grpc::ServerContext* ctx, const v1::AcceptRequest* request,
                      v1::Endpoint* response) override;
  grpc::Status StreamAccept(grpc::ServerContext* ctx, const v1::StreamAcceptRequest* request,
                            grpc::ServerWriter<v1::StreamAcceptResponse>* writer) override;
  grpc::Status Close(grpc::ServerContext* ctx, const v1::CloseRequest* request,
                     v1::CloseResponse* response) override;
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* request,
                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) override;

 private:
  // Runs `command` on the loop, then answers with the endpoint's snapshot.
  template <class Command>
  grpc::Status command_then_query(EndpointId id, Command command, v1::Endpoint* response);
  // Registers `register_wait` for listener `id` after checking that it is one.
  template <class Register>
  grpc::Status on_listener(EndpointId id, Register register_wait);

  Backend& backend_;
};

}  // namespace tapstack::server
