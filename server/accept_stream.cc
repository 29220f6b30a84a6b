#include "server/accept_stream.h"

#include <thread>

namespace tapstack::server {

void AcceptStream::end(const grpc::Status& status) {
  std::lock_guard lock(mutex_);
  if (!end_) end_ = status;
  cv_.notify_one();
}

WaitEnd AcceptStream::next(grpc::ServerContext& ctx, Batch& out, Duration max_delay) {
  out = {};
  std::unique_lock lock(mutex_);
  WaitEnd why = wait_for_rpc(cv_, lock, ctx, rpc_deadline(ctx),
                             [&] { return !ready_.empty() || finished(); });
  if (why != WaitEnd::kReady) return why;
  if (max_delay > Duration::zero() && !finished() && ready_.size() < capacity_ / 2) {
    lock.unlock();
    std::this_thread::sleep_for(max_delay);
    lock.lock();
  }
  out.freed_room = ready_.size() >= capacity_;
  out.connections.swap(ready_);
  if (finished()) out.end = end_.value_or(grpc::Status::OK);
  return WaitEnd::kReady;
}

std::vector<EndpointInfo> AcceptStream::abandon() {
  std::lock_guard lock(mutex_);
  abandoned_ = true;
  return std::move(ready_);
}

}  // namespace tapstack::server
