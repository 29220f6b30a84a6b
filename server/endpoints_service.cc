#include "server/endpoints_service.h"

#include <charconv>

#include "server/data_io.h"
#include "server/data_wait.h"
#include "server/endpoint_wait.h"
#include "server/finished_stream.h"
#include "server/listener_check.h"
#include "server/proto_convert.h"
#include "server/read_stream_call.h"
#include "server/shard_commands.h"
#include "server/stream_accept_call.h"
#include "server/watcher.h"
#include "server/write_stream_call.h"

namespace tapstack::server {
namespace {

constexpr size_t kDefaultWatchQueue = 1024;
constexpr size_t kMaxWatchQueue = 65536;

// Every call names an endpoint; 0 is never one.
grpc::Status check_id(uint64_t id) {
  if (id == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "id is required (endpoints start at 1)"};
  return grpc::Status::OK;
}

grpc::Status check_size(const char* field, size_t size) {
  if (size > kMaxDataMessage) {
    return {grpc::StatusCode::INVALID_ARGUMENT, std::string(field) + " is at most " +
                                                    std::to_string(kMaxDataMessage) + ", not " +
                                                    std::to_string(size)};
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* finished_call(grpc::CallbackServerContext* ctx,
                                        const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

AfterAccept after_accept(v1::StreamAcceptRequest::AfterAccept a) {
  switch (a) {
    case v1::StreamAcceptRequest::AFTER_ACCEPT_CLOSE:
      return AfterAccept::kClose;
    case v1::StreamAcceptRequest::AFTER_ACCEPT_ABORT:
      return AfterAccept::kAbort;
    default:
      return AfterAccept::kKeep;
  }
}

}  // namespace

template <class Body>
grpc::ServerUnaryReactor* EndpointsService::now(grpc::CallbackServerContext* ctx, Body body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  CallLimiter::Slot slot = backend_.admit(*ctx);
  reactor->Finish(slot.ok() ? body() : slot.status());
  return reactor;
}

grpc::Status EndpointsService::reply(const Answer& answer, v1::Endpoint* response) {
  if (!answer.is_ok()) return to_grpc(answer.status());
  to_proto(answer->info, response);
  if (response->has_listener()) {
    response->mutable_listener()->set_accept_waiters(answer->accept_waiters);
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* EndpointsService::CreateEndpoint(grpc::CallbackServerContext* ctx,
                                                           const v1::CreateEndpointRequest*,
                                                           v1::Endpoint* response) {
  return now(ctx, [&] { return reply(create_endpoint(backend_.shards), response); });
}

grpc::ServerUnaryReactor* EndpointsService::GetEndpoint(grpc::CallbackServerContext* ctx,
                                                        const v1::GetEndpointRequest* request,
                                                        v1::Endpoint* response) {
  return now(ctx, [&] {
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return reply(query_endpoint(backend_.shards, request->id()), response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::ListEndpoints(grpc::CallbackServerContext* ctx,
                                                          const v1::ListEndpointsRequest* request,
                                                          v1::ListEndpointsResponse* response) {
  return now(ctx, [&] { return list(*request, response); });
}

grpc::Status EndpointsService::list(const v1::ListEndpointsRequest& request,
                                    v1::ListEndpointsResponse* response) {
  // The page token is the last id of the previous page: ids only grow, so it stays valid
  // however the table changes in between.
  EndpointId after = 0;
  const std::string& token = request.page_token();
  if (!token.empty()) {
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), after);
    if (ec != std::errc{} || end != token.data() + token.size()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "page_token '" + token + "' was not issued here"};
    }
  }
  std::optional<TcpState> state = from_proto(request.state());
  if (request.state() != v1::TCP_STATE_UNSPECIFIED && !state) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "unknown state filter"};
  }
  for (const QueriedEndpoint& q : list_endpoints(backend_.shards)) {  // in id order
    const EndpointInfo& e = q.info;
    if (e.id <= after || (state && e.state != *state)) continue;
    if (request.page_size() != 0 &&
        static_cast<uint32_t>(response->endpoints_size()) == request.page_size()) {
      response->set_next_page_token(std::to_string(response->endpoints().rbegin()->id()));
      break;
    }
    v1::Endpoint* endpoint = response->add_endpoints();
    to_proto(e, endpoint);
    if (e.listener) endpoint->mutable_listener()->set_accept_waiters(q.accept_waiters);
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* EndpointsService::Bind(grpc::CallbackServerContext* ctx,
                                                 const v1::BindRequest* request,
                                                 v1::Endpoint* response) {
  return now(ctx, [&] {
    // Empty keeps its first meaning, IPv4's wildcard; "::" is both families.
    auto address = parse_address("address", request->address(), IpAddress(Ipv4Address{}));
    if (!address.is_ok()) return to_grpc(address.status());
    auto port = parse_port("port", request->port(), true);
    if (!port.is_ok()) return to_grpc(port.status());
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return reply(bind_endpoint(backend_.shards, request->id(), *address, *port, request->v6_only()),
                 response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::SetKeepalive(grpc::CallbackServerContext* ctx,
                                                         const v1::SetKeepaliveRequest* request,
                                                         v1::Endpoint* response) {
  return now(ctx, [&] {
    std::optional<Keepalive> keepalive;
    if (request->has_keepalive()) {
      auto parsed = from_proto(request->keepalive());
      if (!parsed.is_ok()) return to_grpc(parsed.status());
      keepalive = *parsed;
    }
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return reply(set_endpoint_keepalive(backend_.shards, request->id(), keepalive), response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::SetOptions(grpc::CallbackServerContext* ctx,
                                                       const v1::SetOptionsRequest* request,
                                                       v1::Endpoint* response) {
  return now(ctx, [&] {
    auto change = from_proto(*request);
    if (!change.is_ok()) return to_grpc(change.status());
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return reply(set_endpoint_options(backend_.shards, request->id(), *change), response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::Listen(grpc::CallbackServerContext* ctx,
                                                   const v1::ListenRequest* request,
                                                   v1::Endpoint* response) {
  return now(ctx, [&] {
    uint32_t backlog =
        request->has_backlog() ? request->backlog().value() : backend_.options.backlog;
    std::optional<uint32_t> syn_backlog;
    if (request->has_syn_backlog()) syn_backlog = request->syn_backlog().value();
    std::optional<tcp::AdmissionPolicy> admission;
    if (request->has_admission()) {
      auto policy = from_proto(request->admission(), "admission");
      if (!policy.is_ok()) return to_grpc(policy.status());
      admission = std::move(policy.value());
    }
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return reply(listen_endpoint(backend_.shards, request->id(), backlog, syn_backlog, admission),
                 response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::SetAdmissionPolicy(
    grpc::CallbackServerContext* ctx, const v1::SetAdmissionPolicyRequest* request,
    v1::Endpoint* response) {
  return now(ctx, [&] {
    if (auto s = check_id(request->id()); !s.ok()) return s;
    if (request->has_policy() == request->clear()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "set exactly one of policy (the new policy) and clear");
    }
    std::optional<tcp::AdmissionPolicy> admission;
    if (request->has_policy()) {
      auto policy = from_proto(request->policy(), "policy");
      if (!policy.is_ok()) return to_grpc(policy.status());
      admission = std::move(policy.value());
    }
    return reply(set_endpoint_admission(backend_.shards, request->id(), admission), response);
  });
}

grpc::ServerUnaryReactor* EndpointsService::Connect(grpc::CallbackServerContext* ctx,
                                                    const v1::ConnectRequest* request,
                                                    v1::Endpoint* response) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  grpc::Status invalid = slot.status();
  const EndpointId id = request->id();
  auto address = parse_address("remote.address", request->remote().address(), std::nullopt);
  auto port = parse_port("remote.port", request->remote().port(), false);
  if (invalid.ok()) invalid = check_id(id);
  if (invalid.ok() && !address.is_ok()) invalid = to_grpc(address.status());
  if (invalid.ok() && !port.is_ok()) invalid = to_grpc(port.status());
  if (!invalid.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(invalid);
    return reactor;
  }
  const std::string peer = address->to_string(*port);
  auto* wait = new EndpointWait(*ctx, response, std::move(slot),
                                "while connecting to " + peer + "; endpoint " + std::to_string(id) +
                                    " keeps trying: Close it, or follow it with GetEndpoint",
                                nullptr);
  // Starting the handshake and watching for its end in one loop turn: no event can slip by.
  Shards& shards = backend_.shards;
  Shard& shard = connect_shard(shards, id, *address, *port);
  shard.loop.post([&shards, &shard, done = wait->completion(), id, address = *address, port = *port,
                   peer](Engine& engine) {
    Status s = engine.connect(id, address, port);
    if (s.is_ok()) {
      connect_started(shards, id, shard);
      shard.hub.watch_connect(id, peer, done);
    } else {
      done->complete({to_grpc(s), {}});
    }
  });
  return wait;
}

grpc::ServerUnaryReactor* EndpointsService::Accept(grpc::CallbackServerContext* ctx,
                                                   const v1::AcceptRequest* request,
                                                   v1::Endpoint* response) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  if (!slot.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(slot.status());
    return reactor;
  }
  const EndpointId id = request->id();
  Shards& shards = backend_.shards;
  // Abandoned under the completion's lock: no loop will take a connection for it.
  auto* wait = new EndpointWait(*ctx, response, std::move(slot),
                                "before a connection arrived on listener " + std::to_string(id),
                                [&shards, id] {
                                  for (Shard& s : shards)
                                    s.loop.post([&hub = s.hub, id](Engine&) { hub.prune(id); });
                                });
  // Every loop of a group serves it, whichever has a connection first (the completion takes
  // one connection at most).
  Shard& owner = shards.of(id);
  owner.loop.post([&shards, &owner, done = wait->completion(), id](Engine& engine) {
    if (Status s = check_listener(engine, id); !s.is_ok()) {
      done->complete({to_grpc(s), {}});
      return;
    }
    owner.hub.add_accept(engine, id, done);
    if (!shards.is_group(id)) return;
    for (Shard& s : shards) {
      if (&s == &owner) continue;
      s.loop.post([&hub = s.hub, done, id](Engine& replica) { hub.add_accept(replica, id, done); });
    }
  });
  return wait;
}

grpc::ServerWriteReactor<v1::StreamAcceptResponse>* EndpointsService::StreamAccept(
    grpc::CallbackServerContext* ctx, const v1::StreamAcceptRequest* request) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  if (!slot.ok()) return finished_stream<v1::StreamAcceptResponse>(slot.status());
  StreamAcceptCall::Options options;
  options.listener = request->id();
  options.after = after_accept(request->after_accept());
  options.max_connections = request->max_connections();
  options.max_delay = std::chrono::seconds(request->max_delay().seconds()) +
                      std::chrono::nanoseconds(request->max_delay().nanos());
  if (options.max_delay < Duration::zero() || options.max_delay > milliseconds(100)) {
    return finished_stream<v1::StreamAcceptResponse>(
        {grpc::StatusCode::INVALID_ARGUMENT, "max_delay must be 0..100 ms"});
  }
  return StreamAcceptCall::start(backend_, std::move(slot), options);
}

grpc::ServerUnaryReactor* EndpointsService::Close(grpc::CallbackServerContext* ctx,
                                                  const v1::CloseRequest* request,
                                                  v1::CloseResponse*) {
  return now(ctx, [&] {
    if (auto s = check_id(request->id()); !s.ok()) return s;
    return to_grpc(close_endpoint(backend_.shards, request->id(), request->abort()));
  });
}

grpc::ServerWriteReactor<v1::WatchEventsResponse>* EndpointsService::WatchEvents(
    grpc::CallbackServerContext* ctx, const v1::WatchEventsRequest* request) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  if (!slot.ok()) return finished_stream<v1::WatchEventsResponse>(slot.status());
  if (request->queue_limit() > kMaxWatchQueue) {
    return finished_stream<v1::WatchEventsResponse>(
        {grpc::StatusCode::INVALID_ARGUMENT,
         "queue_limit must be at most " + std::to_string(kMaxWatchQueue)});
  }
  size_t limit = request->queue_limit() == 0 ? kDefaultWatchQueue : request->queue_limit();
  return Watcher::start(backend_.shards[0].loop, backend_.log, std::move(slot),
                        request->endpoint_id(), limit);
}

}  // namespace tapstack::server

namespace tapstack::server {

grpc::ServerUnaryReactor* EndpointsService::Read(grpc::CallbackServerContext* ctx,
                                                 const v1::ReadRequest* request,
                                                 v1::ReadResponse* response) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  grpc::Status invalid = slot.status();
  if (invalid.ok()) invalid = check_id(request->id());
  if (invalid.ok() && request->max_bytes() == 0) {
    invalid = {grpc::StatusCode::INVALID_ARGUMENT, "max_bytes is required"};
  }
  if (invalid.ok()) invalid = check_size("max_bytes", request->max_bytes());
  if (!invalid.ok()) return finished_call(ctx, invalid);
  const EndpointId id = request->id();
  return DataWait::start(
      *ctx, std::move(slot), backend_.shards, id,
      [id, response, max = request->max_bytes()](Engine& engine,
                                                 bool waited) -> std::optional<grpc::Status> {
        std::span<uint8_t> buffer = read_buffer(max);
        auto n = engine.read(id, buffer);
        if (!n.is_ok()) {
          if (would_block(n.status())) return std::nullopt;
          return data_status(n.status(), id, waited);
        }
        if (*n == 0) {
          response->set_eof(true);
        } else {
          response->set_data(buffer.data(), *n);
        }
        return grpc::Status::OK;
      },
      [id](WaitEnd why) -> grpc::Status {
        if (why == WaitEnd::kCancelled) return {grpc::StatusCode::CANCELLED, "cancelled"};
        return {grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed before endpoint " +
                                                         std::to_string(id) + " received anything"};
      });
}

grpc::ServerUnaryReactor* EndpointsService::Write(grpc::CallbackServerContext* ctx,
                                                  const v1::WriteRequest* request,
                                                  v1::WriteResponse* response) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  grpc::Status invalid = slot.status();
  if (invalid.ok()) invalid = check_id(request->id());
  if (invalid.ok()) invalid = check_size("data", request->data().size());
  if (!invalid.ok()) return finished_call(ctx, invalid);
  const EndpointId id = request->id();
  const std::string& data = request->data();
  return DataWait::start(
      *ctx, std::move(slot), backend_.shards, id,
      [id, &data, response](Engine& engine, bool waited) -> std::optional<grpc::Status> {
        auto bytes = std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size());
        for (;;) {  // once even for no data: the endpoint is checked
          size_t done = response->bytes_written();
          auto n = engine.write(id, bytes.subspan(done));
          if (!n.is_ok()) {
            if (would_block(n.status())) return std::nullopt;
            // After some bytes, the short count, as send() returns it; the next call fails.
            if (done > 0) return grpc::Status::OK;
            return data_status(n.status(), id, waited);
          }
          response->set_bytes_written(done + *n);
          if (response->bytes_written() == bytes.size()) return grpc::Status::OK;
          if (*n == 0) return std::nullopt;
        }
      },
      [id, response](WaitEnd why) -> grpc::Status {
        if (why == WaitEnd::kCancelled) return {grpc::StatusCode::CANCELLED, "cancelled"};
        if (response->bytes_written() > 0) return grpc::Status::OK;  // a short count
        return {grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed before endpoint " +
                                                         std::to_string(id) +
                                                         "'s send buffer had room"};
      });
}

grpc::ServerUnaryReactor* EndpointsService::Shutdown(grpc::CallbackServerContext* ctx,
                                                     const v1::ShutdownRequest* request,
                                                     v1::ShutdownResponse*) {
  return now(ctx, [&] {
    if (auto s = check_id(request->id()); !s.ok()) return s;
    const EndpointId id = request->id();
    return to_grpc(
        backend_.shards.of(id).loop.call([id](Engine& engine) { return engine.shutdown(id); }));
  });
}

grpc::ServerWriteReactor<v1::ReadStreamResponse>* EndpointsService::ReadStream(
    grpc::CallbackServerContext* ctx, const v1::ReadStreamRequest* request) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  grpc::Status invalid = slot.status();
  if (invalid.ok()) invalid = check_id(request->id());
  if (invalid.ok()) invalid = check_size("max_message_bytes", request->max_message_bytes());
  if (!invalid.ok()) return finished_stream<v1::ReadStreamResponse>(invalid);
  size_t message_bytes =
      request->max_message_bytes() == 0 ? kDefaultStreamMessage : request->max_message_bytes();
  return ReadStreamCall::start(backend_.shards, std::move(slot), request->id(), message_bytes);
}

grpc::ServerReadReactor<v1::WriteStreamRequest>* EndpointsService::WriteStream(
    grpc::CallbackServerContext* ctx, v1::WriteStreamResponse* response) {
  CallLimiter::Slot slot = backend_.admit(*ctx);
  if (!slot.ok()) {
    return finished_read_stream<v1::WriteStreamRequest>(slot.status());
  }
  return WriteStreamCall::start(backend_.shards, std::move(slot), response);
}

}  // namespace tapstack::server
