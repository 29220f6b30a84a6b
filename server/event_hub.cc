#include "server/event_hub.h"

#include <algorithm>
#include <utility>

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

bool fin_unacked(TcpState state) {
  return state == TcpState::kFinWait1 || state == TcpState::kClosing || state == TcpState::kLastAck;
}

}  // namespace

EventHub::EventHub(EngineLoop& loop, HandshakeHistogram& histogram, EventLog& log)
    : loop_(loop), histogram_(histogram), log_(log) {}

void EventHub::attach() {
  // Figures (a connection's snapshot, and an allocation to share it) are made only for the
  // events this hub publishes while someone watches: a few events per connection's life.
  loop_.set_event_handler(
      [this](const Event& event) { on_event(event); },
      [this](EndpointId id) { return log_.watched() && (!publishes_ || publishes_(id)); });
}

void EventHub::on_event(const Event& event) {
  // Cookie connections report no duration: their SYN left no trace to measure from.
  if (event.kind == Event::Kind::kEstablished && event.handshake_duration > Duration::zero()) {
    histogram_.observe(event.handshake_duration);
  }
  // Readable and writable come with nearly every segment: they wake data waiters and are not
  // published (WatchEvents follows endpoints' lives, not their bytes).
  bool data_event = event.kind == Event::Kind::kReadable || event.kind == Event::Kind::kWritable;
  if (!data_event && (!publishes_ || publishes_(event.endpoint))) {
    std::shared_ptr<const ConnectionInfo> figures;
    if (event.connection) figures = std::make_shared<const ConnectionInfo>(*event.connection);
    publish({0, to_proto(event.kind), event.endpoint, event.listener, event.state,
             event.handshake_duration, std::move(figures)});
  }
  if (shut_down_) track_fin(event);

  bool wanted =
      connects_.contains(event.endpoint) || data_.contains(event.endpoint) ||
      (event.kind == Event::Kind::kConnectionReady && listeners_.contains(event.listener)) ||
      (event.kind == Event::Kind::kReleased && listeners_.contains(event.endpoint));
  if (!wanted) return;
  pending_.push_back(event);
  pending_.back().connection = nullptr;  // valid only during this call
  if (!dispatch_posted_) {
    dispatch_posted_ = true;  // one dispatch serves every event recorded until it runs
    loop_.post([this](Engine& engine) { dispatch(engine); });
  }
}

void EventHub::dispatch(Engine& engine) {
  dispatch_posted_ = false;
  // Events recorded meanwhile go to pending_ for the next dispatch; both vectors keep their
  // capacity, so dispatching allocates nothing.
  dispatching_.swap(pending_);
  for (const Event& event : dispatching_) {
    if (connects_.contains(event.endpoint)) finish_connect(engine, event);
    if (data_.contains(event.endpoint)) wake_data(engine, event.endpoint);
    if (event.kind == Event::Kind::kConnectionReady) serve_listener(engine, event.listener);
    if (event.kind == Event::Kind::kReleased) listener_released(event.endpoint);
  }
  dispatching_.clear();
}

void EventHub::publish(const WatchedEvent& event) {
  log_.append(event);  // it numbers the event
}

void EventHub::watch_connect(EndpointId id, std::string peer,
                             std::shared_ptr<EndpointCompletion> done) {
  if (shut_down_) {
    done->complete({*shut_down_, {}});
    return;
  }
  connects_[id] = {std::move(peer), std::move(done)};
}

void EventHub::finish_connect(Engine& engine, const Event& event) {
  auto it = connects_.find(event.endpoint);
  const std::string& peer = it->second.peer;
  EndpointOutcome outcome;
  switch (event.kind) {
    case Event::Kind::kEstablished: {
      auto info = engine.query(event.endpoint);
      if (info.is_ok()) {
        outcome.endpoint = *info;
      } else {
        outcome.status = to_grpc(info.status());
      }
      break;
    }
    case Event::Kind::kRefused:
      outcome.status = {grpc::StatusCode::UNAVAILABLE, "connection to " + peer + " refused"};
      break;
    case Event::Kind::kTimedOut:
      outcome.status = {grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no answer from " + peer + " after " +
                            std::to_string(engine.tunable().syn_retries) +
                            " SYN retransmissions (syn_retries)"};
      break;
    case Event::Kind::kReset:
      outcome.status = {grpc::StatusCode::UNAVAILABLE, "connection to " + peer + " reset"};
      break;
    case Event::Kind::kUnreachable:
      outcome.status = {grpc::StatusCode::UNAVAILABLE,
                        "connection to " + peer + " failed: " + std::string(event.reason)};
      break;
    case Event::Kind::kReleased:
      outcome.status = {grpc::StatusCode::ABORTED, "endpoint " + std::to_string(event.endpoint) +
                                                       " was closed while connecting"};
      break;
    default:
      return;  // state changes on the way: keep waiting
  }
  it->second.done->complete(std::move(outcome));
  connects_.erase(it);
}

void EventHub::wait_data(EndpointId id, std::shared_ptr<DataWaiter> waiter) {
  if (shut_down_) {
    waiter->end(*shut_down_);
    return;
  }
  data_[id].push_back(std::move(waiter));
}

void EventHub::wake_data(Engine& engine, EndpointId id) {
  auto it = data_.find(id);
  if (it == data_.end()) return;
  // Each waiter waits again (wait_data) if it still would block: the list starts afresh.
  std::vector<std::shared_ptr<DataWaiter>> waiters = std::move(it->second);
  data_.erase(it);
  for (const auto& waiter : waiters) {
    if (waiter->waiting()) waiter->retry(engine);
  }
}

void EventHub::prune_data(EndpointId id) {
  auto it = data_.find(id);
  if (it == data_.end()) return;
  std::erase_if(it->second, [](const auto& w) { return !w->waiting(); });
  if (it->second.empty()) data_.erase(it);
}

void EventHub::add_accept(Engine& engine, EndpointId listener,
                          std::shared_ptr<EndpointCompletion> done) {
  if (shut_down_) {
    done->complete({*shut_down_, {}});
    return;
  }
  ListenerWaits& waits = listeners_[listener];
  std::erase_if(waits.accepts, [](const auto& a) { return !a->waiting(); });
  waits.accepts.push_back(std::move(done));
  serve_listener(engine, listener);
}

void EventHub::add_accept_stream(Engine& engine, EndpointId listener,
                                 std::shared_ptr<AcceptStream> stream) {
  if (shut_down_) {
    stream->end(*shut_down_);
    return;
  }
  listeners_[listener].streams.push_back(std::move(stream));
  serve_listener(engine, listener);
}

std::optional<EndpointInfo> EventHub::take(Engine& engine, EndpointId listener, AfterAccept after) {
  auto id = engine.accept(listener);
  if (!id.is_ok()) return std::nullopt;
  auto info = engine.query(*id);
  if (!info.is_ok()) return std::nullopt;
  publish({0, v1::EndpointEvent::KIND_ACCEPTED, *id, listener, info->state, {}, {}});
  if (after != AfterAccept::kKeep) engine.close(*id, after == AfterAccept::kAbort);
  return *info;
}

void EventHub::serve_listener(Engine& engine, EndpointId listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return;
  ListenerWaits& waits = it->second;
  // Accepts first, oldest first; each takes a connection only while its caller still waits.
  while (!waits.accepts.empty()) {
    auto outcome = waits.accepts.front()->try_complete([&]() -> std::optional<EndpointOutcome> {
      auto info = take(engine, listener, AfterAccept::kKeep);
      if (!info) return std::nullopt;
      return EndpointOutcome{grpc::Status::OK, *info};
    });
    if (outcome == EndpointCompletion::Outcome::kNotReady) return;  // the queue is empty
    waits.accepts.pop_front();
  }
  // Here every Accept is served, so the listener's entry lives on only for its streams.
  std::erase_if(waits.streams, [&](const std::shared_ptr<AcceptStream>& stream) {
    return !stream->fill([&] { return take(engine, listener, stream->after()); });
  });
  if (waits.streams.empty()) listeners_.erase(it);
}

void EventHub::prune(EndpointId listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return;
  std::erase_if(it->second.accepts, [](const auto& a) { return !a->waiting(); });
  std::erase_if(it->second.streams, [](const auto& s) { return s->abandoned(); });
  if (it->second.accepts.empty() && it->second.streams.empty()) listeners_.erase(it);
}

uint32_t EventHub::accept_waiters(EndpointId listener) const {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return 0;
  auto waiting = std::count_if(it->second.accepts.begin(), it->second.accepts.end(),
                               [](const auto& a) { return a->waiting(); });
  return static_cast<uint32_t>(waiting + static_cast<ptrdiff_t>(it->second.streams.size()));
}

void EventHub::listener_released(EndpointId listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return;
  for (const auto& accept : it->second.accepts) {
    accept->complete({{grpc::StatusCode::ABORTED,
                       "listener " + std::to_string(listener) + " was closed while waiting"},
                      {}});
  }
  // For a stream the listener's end is the natural end of the stream.
  for (const auto& stream : it->second.streams) stream->end(grpc::Status::OK);
  listeners_.erase(it);
}

void EventHub::shutdown(const grpc::Status& status) {
  shut_down_ = status;
  for (auto& [id, wait] : connects_) wait.done->complete({status, {}});
  connects_.clear();
  for (auto& [id, waits] : listeners_) {
    for (const auto& accept : waits.accepts) accept->complete({status, {}});
    for (const auto& stream : waits.streams) stream->end(status);
  }
  listeners_.clear();
  for (auto& [id, waiters] : data_) {
    for (const auto& waiter : waiters) waiter->end(status);
  }
  data_.clear();
}

void EventHub::track_fin(const Event& event) {
  if (event.kind == Event::Kind::kStateChanged && fin_unacked(event.state)) {
    fin_pending_.insert(event.endpoint);
  } else if (event.kind == Event::Kind::kStateChanged || event.kind == Event::Kind::kReleased) {
    fin_pending_.erase(event.endpoint);
  }
  if (fins_acked_ && fin_pending_.empty()) std::exchange(fins_acked_, nullptr)();
}

void EventHub::when_fins_acked(std::function<void()> done) {
  if (fin_pending_.empty()) {
    done();
  } else {
    fins_acked_ = std::move(done);
  }
}

}  // namespace tapstack::server
