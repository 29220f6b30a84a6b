#include "server/endpoints_service.h"

#include <charconv>
#include <unordered_map>

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

constexpr size_t kDefaultWatchQueue = 1024;
constexpr size_t kMaxWatchQueue = 65536;
constexpr size_t kStreamAcceptQueue = 256;  // connections taken ahead of the reader

// Every call names an endpoint; 0 is never one.
grpc::Status check_id(uint64_t id) {
  if (id == 0) return {grpc::StatusCode::INVALID_ARGUMENT, "id is required (endpoints start at 1)"};
  return grpc::Status::OK;
}

grpc::Status reply(const Result<EndpointInfo>& info, v1::Endpoint* response) {
  if (!info.is_ok()) return to_grpc(info.status());
  to_proto(*info, response);
  return grpc::Status::OK;
}

grpc::Status gave_up(WaitEnd why, const std::string& what) {
  if (why == WaitEnd::kCancelled) return {grpc::StatusCode::CANCELLED, "cancelled by the client"};
  return {grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed " + what};
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

void fill_response(const Watcher::Item& item, v1::WatchEventsResponse* out) {
  if (item.lost > 0) {
    out->mutable_lost()->set_count(item.lost);
    return;
  }
  const WatchedEvent& e = item.event;
  v1::EndpointEvent* event = out->mutable_event();
  event->set_sequence(e.sequence);
  event->set_kind(e.kind);
  event->set_endpoint_id(e.endpoint);
  event->set_listener_id(e.listener);
  event->set_state(to_proto(e.state));
  auto ns = e.handshake_duration.count();
  event->mutable_handshake_duration()->set_seconds(ns / 1'000'000'000);
  event->mutable_handshake_duration()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

}  // namespace

template <class Command>
grpc::Status EndpointsService::command_then_query(EndpointId id, Command command,
                                                  v1::Endpoint* response) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  if (auto s = check_id(id); !s.ok()) return s;
  uint32_t waiters = 0;
  auto info = backend_.loop.call([&](Engine& engine) -> Result<EndpointInfo> {
    if (Status s = command(engine); !s.is_ok()) return s;
    waiters = backend_.hub.accept_waiters(id);
    return engine.query(id);
  });
  grpc::Status status = reply(info, response);
  if (response->has_listener()) response->mutable_listener()->set_accept_waiters(waiters);
  return status;
}

template <class Register>
grpc::Status EndpointsService::on_listener(EndpointId id, Register register_wait) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  if (auto s = check_id(id); !s.ok()) return s;
  return to_grpc(backend_.loop.call([&](Engine& engine) -> Status {
    auto info = engine.query(id);
    if (!info.is_ok()) return info.status();
    if (!info->listener) {
      return error(ErrorCode::kFailedPrecondition, "endpoint " + std::to_string(id) +
                                                       " is not listening (state " +
                                                       std::string(to_string(info->state)) + ")");
    }
    register_wait(engine);
    return Status::ok();
  }));
}

grpc::Status EndpointsService::CreateEndpoint(grpc::ServerContext*,
                                              const v1::CreateEndpointRequest*,
                                              v1::Endpoint* response) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  auto info = backend_.loop.call([](Engine& engine) -> Result<EndpointInfo> {
    auto id = engine.create_endpoint();
    if (!id.is_ok()) return id.status();
    return engine.query(*id);
  });
  return reply(info, response);
}

grpc::Status EndpointsService::GetEndpoint(grpc::ServerContext*,
                                           const v1::GetEndpointRequest* request,
                                           v1::Endpoint* response) {
  return command_then_query(
      request->id(), [](Engine&) { return Status::ok(); }, response);
}

grpc::Status EndpointsService::ListEndpoints(grpc::ServerContext*,
                                             const v1::ListEndpointsRequest* request,
                                             v1::ListEndpointsResponse* response) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  // The page token is the last id of the previous page: ids only grow, so it stays valid
  // however the table changes in between.
  EndpointId after = 0;
  const std::string& token = request->page_token();
  if (!token.empty()) {
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), after);
    if (ec != std::errc{} || end != token.data() + token.size()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "page_token '" + token + "' was not issued here"};
    }
  }
  std::optional<TcpState> state = from_proto(request->state());
  if (request->state() != v1::TCP_STATE_UNSPECIFIED && !state) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "unknown state filter"};
  }
  std::unordered_map<EndpointId, uint32_t> waiters;  // of listeners
  auto all = backend_.loop.call([&](Engine& engine) {
    auto list = engine.list();  // in id order
    for (const EndpointInfo& e : list) {
      if (e.listener) waiters[e.id] = backend_.hub.accept_waiters(e.id);
    }
    return list;
  });
  for (const EndpointInfo& e : all) {
    if (e.id <= after || (state && e.state != *state)) continue;
    if (request->page_size() != 0 &&
        static_cast<uint32_t>(response->endpoints_size()) == request->page_size()) {
      response->set_next_page_token(std::to_string(response->endpoints().rbegin()->id()));
      break;
    }
    v1::Endpoint* endpoint = response->add_endpoints();
    to_proto(e, endpoint);
    if (e.listener) endpoint->mutable_listener()->set_accept_waiters(waiters[e.id]);
  }
  return grpc::Status::OK;
}

grpc::Status EndpointsService::Bind(grpc::ServerContext*, const v1::BindRequest* request,
                                    v1::Endpoint* response) {
  auto address = parse_address("address", request->address(), Ipv4Address{});
  if (!address.is_ok()) return to_grpc(address.status());
  auto port = parse_port("port", request->port(), true);
  if (!port.is_ok()) return to_grpc(port.status());
  return command_then_query(
      request->id(), [&](Engine& engine) { return engine.bind(request->id(), *address, *port); },
      response);
}

grpc::Status EndpointsService::Listen(grpc::ServerContext*, const v1::ListenRequest* request,
                                      v1::Endpoint* response) {
  uint32_t backlog = request->has_backlog() ? request->backlog().value() : backend_.options.backlog;
  std::optional<uint32_t> syn_backlog;
  if (request->has_syn_backlog()) syn_backlog = request->syn_backlog().value();
  return command_then_query(
      request->id(),
      [&](Engine& engine) { return engine.listen(request->id(), backlog, syn_backlog); }, response);
}

grpc::Status EndpointsService::Connect(grpc::ServerContext* ctx, const v1::ConnectRequest* request,
                                       v1::Endpoint* response) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  const EndpointId id = request->id();
  if (auto s = check_id(id); !s.ok()) return s;
  auto address = parse_address("remote.address", request->remote().address(), std::nullopt);
  if (!address.is_ok()) return to_grpc(address.status());
  auto port = parse_port("remote.port", request->remote().port(), false);
  if (!port.is_ok()) return to_grpc(port.status());
  const std::string peer = address->to_string() + ":" + std::to_string(*port);

  auto done = std::make_shared<EndpointCompletion>();
  // Starting the handshake and watching for its end in one loop turn: no event can slip by.
  Status started = backend_.loop.call([&](Engine& engine) {
    Status s = engine.connect(id, *address, *port);
    if (s.is_ok()) backend_.hub.watch_connect(id, peer, done);
    return s;
  });
  if (!started.is_ok()) return to_grpc(started);
  WaitEnd why;
  auto outcome = done->wait(*ctx, rpc_deadline(*ctx), why);
  if (!outcome) {
    return gave_up(why, "while connecting to " + peer + "; endpoint " + std::to_string(id) +
                            " keeps trying: Close it, or follow it with GetEndpoint");
  }
  if (!outcome->status.ok()) return outcome->status;
  to_proto(outcome->endpoint, response);
  return grpc::Status::OK;
}

grpc::Status EndpointsService::Accept(grpc::ServerContext* ctx, const v1::AcceptRequest* request,
                                      v1::Endpoint* response) {
  const EndpointId id = request->id();
  auto done = std::make_shared<EndpointCompletion>();
  if (auto s = on_listener(id, [&](Engine& engine) { backend_.hub.add_accept(engine, id, done); });
      !s.ok()) {
    return s;
  }
  WaitEnd why;
  auto outcome = done->wait(*ctx, rpc_deadline(*ctx), why);
  if (!outcome) {
    // Abandoned under the completion's lock: the loop will not take a connection for it.
    EventHub& hub = backend_.hub;
    backend_.loop.post([&hub, id](Engine&) { hub.prune(id); });
    return gave_up(why, "before a connection arrived on listener " + std::to_string(id));
  }
  if (!outcome->status.ok()) return outcome->status;
  to_proto(outcome->endpoint, response);
  return grpc::Status::OK;
}

grpc::Status EndpointsService::StreamAccept(grpc::ServerContext* ctx,
                                            const v1::StreamAcceptRequest* request,
                                            grpc::ServerWriter<v1::StreamAcceptResponse>* writer) {
  const EndpointId id = request->id();
  const AfterAccept after = after_accept(request->after_accept());
  const Duration max_delay = std::chrono::seconds(request->max_delay().seconds()) +
                             std::chrono::nanoseconds(request->max_delay().nanos());
  if (max_delay < Duration::zero() || max_delay > milliseconds(100)) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "max_delay must be 0..100 ms"};
  }
  // Connections are taken as they are; closing them waits until they are handed over, so a
  // client that already sent its RST or FIN (a load generator, say) is not answered with one
  // more segment, and the closes of a batch cost the loop one post.
  auto stream = std::make_shared<AcceptStream>(AfterAccept::kKeep, request->max_connections(),
                                               kStreamAcceptQueue, true);
  if (auto s = on_listener(
          id, [&](Engine& engine) { backend_.hub.add_accept_stream(engine, id, stream); });
      !s.ok()) {
    return s;
  }
  writer->SendInitialMetadata();  // tells the client the stream is registered
  EventHub& hub = backend_.hub;
  auto close_all = [&](const std::vector<EndpointInfo>& connections, bool abort) {
    if (connections.empty()) return;
    std::vector<EndpointId> ids;
    ids.reserve(connections.size());
    for (const EndpointInfo& e : connections) ids.push_back(e.id);
    backend_.loop.post([ids = std::move(ids), abort](Engine& engine) {
      for (EndpointId c : ids) engine.close(c, abort);
    });
  };
  // Connections taken for a client that went away are closed, not left open unowned.
  auto close_undelivered = [&](const std::vector<EndpointInfo>& undelivered) {
    close_all(undelivered, after == AfterAccept::kAbort);
  };
  while (true) {
    AcceptStream::Batch batch;
    WaitEnd why = stream->next(*ctx, batch, max_delay);
    if (why != WaitEnd::kReady) {
      close_undelivered(stream->abandon());
      return gave_up(why, "during StreamAccept");
    }
    if (batch.freed_room)
      backend_.loop.post([&hub, id](Engine& engine) { hub.serve_listener(engine, id); });
    if (!batch.connections.empty()) {
      v1::StreamAcceptResponse message;
      for (const EndpointInfo& e : batch.connections) to_proto(e, message.add_connections());
      if (!writer->Write(message)) {
        std::vector<EndpointInfo> undelivered = stream->abandon();
        undelivered.insert(undelivered.end(), batch.connections.begin(), batch.connections.end());
        close_undelivered(undelivered);
        return {grpc::StatusCode::CANCELLED, "the client went away"};
      }
    }
    if (after != AfterAccept::kKeep) close_all(batch.connections, after == AfterAccept::kAbort);
    if (batch.end) return *batch.end;
  }
}

grpc::Status EndpointsService::Close(grpc::ServerContext*, const v1::CloseRequest* request,
                                     v1::CloseResponse*) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  if (auto s = check_id(request->id()); !s.ok()) return s;
  return to_grpc(backend_.loop.call(
      [&](Engine& engine) { return engine.close(request->id(), request->abort()); }));
}

grpc::Status EndpointsService::WatchEvents(grpc::ServerContext* ctx,
                                           const v1::WatchEventsRequest* request,
                                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) {
  if (auto s = backend_.admit(); !s.ok()) return s;
  if (request->queue_limit() > kMaxWatchQueue) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "queue_limit must be at most " + std::to_string(kMaxWatchQueue)};
  }
  size_t limit = request->queue_limit() == 0 ? kDefaultWatchQueue : request->queue_limit();
  auto watcher = std::make_shared<Watcher>(request->endpoint_id(), limit);
  EventHub& hub = backend_.hub;
  backend_.loop.call([&](Engine&) { hub.add_watcher(watcher); });
  writer->SendInitialMetadata();  // tells the client that events from now on will reach it
  grpc::Status result = grpc::Status::OK;
  std::vector<Watcher::Item> items;
  while (true) {
    WaitEnd why = watcher->next(*ctx, items);
    if (why != WaitEnd::kReady) {
      result = gave_up(why, "while watching");
      break;
    }
    if (items.empty()) {
      result = {grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"};
      break;
    }
    bool written = true;
    for (const Watcher::Item& item : items) {
      v1::WatchEventsResponse response;
      fill_response(item, &response);
      if (!(written = writer->Write(response))) break;
    }
    if (!written) {
      result = {grpc::StatusCode::CANCELLED, "the client went away"};
      break;
    }
  }
  backend_.loop.post([&hub, watcher](Engine&) { hub.remove_watcher(watcher); });
  return result;
}

}  // namespace tapstack::server
