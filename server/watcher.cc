#include "server/watcher.h"

namespace tapstack::server {

void Watcher::push(const WatchedEvent& e) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (queued_events_ >= limit_) {
    ++pending_lost_;
    return;
  }
  // The loss note goes where the events went missing; it does not count against the limit.
  if (pending_lost_ > 0) {
    queue_.push_back({{}, pending_lost_});
    pending_lost_ = 0;
  }
  queue_.push_back({e, 0});
  ++queued_events_;
  cv_.notify_one();
}

void Watcher::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  cv_.notify_one();
}

WaitEnd Watcher::next(grpc::ServerContext& ctx, std::vector<Item>& out) {
  out.clear();
  std::unique_lock lock(mutex_);
  WaitEnd end = wait_for_rpc(cv_, lock, ctx, rpc_deadline(ctx),
                             [&] { return !queue_.empty() || pending_lost_ > 0 || closed_; });
  if (end != WaitEnd::kReady) return end;
  out.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  queued_events_ = 0;
  if (pending_lost_ > 0) {
    out.push_back({{}, pending_lost_});
    pending_lost_ = 0;
  }
  return WaitEnd::kReady;
}

}  // namespace tapstack::server
