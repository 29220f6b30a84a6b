#include "server/watcher.h"

#include "server/proto_convert.h"

namespace tapstack::server {
namespace {

// Items taken from the log at a time: bounds each watcher's private copy.
constexpr size_t kReadBatch = 64;

void fill_response(const WatchItem& item, v1::WatchEventsResponse* out) {
  out->Clear();
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
  if (e.connection) to_proto(*e.connection, event->mutable_connection());
}

}  // namespace

Watcher* Watcher::start(EngineLoop& loop, EventLog& log, CallLimiter::Slot slot, EndpointId filter,
                        size_t limit) {
  auto watcher = std::make_shared<Watcher>(log, std::move(slot));
  watcher->self_ = watcher;
  loop.post([watcher, filter, limit](Engine&) { watcher->attach(filter, limit); });
  return watcher.get();
}

void Watcher::attach(EndpointId filter, size_t limit) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;  // cancelled before the loop got here
    cursor_ = log_.subscribe(filter, limit);
    attached_ = true;
  }
  StartSendInitialMetadata();
  pump();
}

void Watcher::pump() {
  std::unique_lock lock(mutex_);
  if (!attached_ || writing_ || finished_) return;
  while (items_.empty()) {
    switch (log_.read(cursor_, items_, kReadBatch, shared_from_this())) {
      case EventLog::ReadEnd::kMore:
        break;
      case EventLog::ReadEnd::kParked:
        return;
      case EventLog::ReadEnd::kClosed:
        lock.unlock();
        finish({grpc::StatusCode::UNAVAILABLE, "tapstackd is shutting down"});
        return;
    }
  }
  fill_response(items_.front(), &response_);
  items_.pop_front();
  writing_ = true;
  // Under the lock, as in CaptureCall::pump: a cancellation between an unlock and the write
  // could finish the call and free it first. The write's completion never runs inline.
  StartWrite(&response_);
}

void Watcher::finish(const grpc::Status& status) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    items_.clear();
  }
  log_.unpark(this);
  Finish(status);
}

void Watcher::OnWriteDone(bool ok) {
  {
    std::lock_guard lock(mutex_);
    writing_ = false;
  }
  if (!ok) {
    finish({grpc::StatusCode::CANCELLED, "the client went away"});
    return;
  }
  pump();
}

void Watcher::OnCancel() {
  finish({grpc::StatusCode::CANCELLED, "cancelled by the client"});
}

void Watcher::OnDone() {
  bool subscribed;
  {
    std::lock_guard lock(mutex_);
    finished_ = true;  // a late attach() must not subscribe
    subscribed = std::exchange(attached_, false);
  }
  if (subscribed) log_.unsubscribe();
  log_.unpark(this);
  slot_ = {};
  auto last = std::move(self_);  // may destroy this; nothing touches it afterwards
}

}  // namespace tapstack::server
