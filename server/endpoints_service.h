// tapstack.v1.Endpoints on gRPC's callback API. Commands run on the engine loops
// (server/shard_commands.h) and finish inline; the calls that wait (Connect, Accept, StreamAccept,
// WatchEvents, and the data calls Read, Write, ReadStream, WriteStream) register with the
// EventHub or EventLog and hold no thread while they wait.
// Every call holds a CallLimiter slot for as long as it runs.
#pragma once

#include "server/backend.h"
#include "server/shard_commands.h"
#include "tapstack/v1/endpoints.grpc.pb.h"

namespace tapstack::server {

class EndpointsService final : public v1::Endpoints::CallbackService {
 public:
  explicit EndpointsService(Backend& backend) : backend_(backend) {}

  grpc::ServerUnaryReactor* CreateEndpoint(grpc::CallbackServerContext* ctx,
                                           const v1::CreateEndpointRequest* request,
                                           v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* GetEndpoint(grpc::CallbackServerContext* ctx,
                                        const v1::GetEndpointRequest* request,
                                        v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* ListEndpoints(grpc::CallbackServerContext* ctx,
                                          const v1::ListEndpointsRequest* request,
                                          v1::ListEndpointsResponse* response) override;
  grpc::ServerUnaryReactor* Bind(grpc::CallbackServerContext* ctx, const v1::BindRequest* request,
                                 v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* Listen(grpc::CallbackServerContext* ctx,
                                   const v1::ListenRequest* request,
                                   v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* SetAdmissionPolicy(grpc::CallbackServerContext* ctx,
                                               const v1::SetAdmissionPolicyRequest* request,
                                               v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* ctx,
                                    const v1::ConnectRequest* request,
                                    v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* Accept(grpc::CallbackServerContext* ctx,
                                   const v1::AcceptRequest* request,
                                   v1::Endpoint* response) override;
  grpc::ServerWriteReactor<v1::StreamAcceptResponse>* StreamAccept(
      grpc::CallbackServerContext* ctx, const v1::StreamAcceptRequest* request) override;
  grpc::ServerUnaryReactor* SetKeepalive(grpc::CallbackServerContext* ctx,
                                         const v1::SetKeepaliveRequest* request,
                                         v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* SetOptions(grpc::CallbackServerContext* ctx,
                                       const v1::SetOptionsRequest* request,
                                       v1::Endpoint* response) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx, const v1::CloseRequest* request,
                                  v1::CloseResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEventsResponse>* WatchEvents(
      grpc::CallbackServerContext* ctx, const v1::WatchEventsRequest* request) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx, const v1::ReadRequest* request,
                                 v1::ReadResponse* response) override;
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx, const v1::WriteRequest* request,
                                  v1::WriteResponse* response) override;
  grpc::ServerUnaryReactor* Shutdown(grpc::CallbackServerContext* ctx,
                                     const v1::ShutdownRequest* request,
                                     v1::ShutdownResponse* response) override;
  grpc::ServerWriteReactor<v1::ReadStreamResponse>* ReadStream(
      grpc::CallbackServerContext* ctx, const v1::ReadStreamRequest* request) override;
  grpc::ServerReadReactor<v1::WriteStreamRequest>* WriteStream(
      grpc::CallbackServerContext* ctx, v1::WriteStreamResponse* response) override;

 private:
  // Admits the call, runs `body` (which returns the call's status) and finishes at once.
  template <class Body>
  grpc::ServerUnaryReactor* now(grpc::CallbackServerContext* ctx, Body body);
  // The command's error, or the endpoint's snapshot after it.
  static grpc::Status reply(const Answer& answer, v1::Endpoint* response);
  grpc::Status list(const v1::ListEndpointsRequest& request, v1::ListEndpointsResponse* response);

  Backend& backend_;
};

}  // namespace tapstack::server
