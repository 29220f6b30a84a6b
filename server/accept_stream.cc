#include "server/accept_stream.h"

namespace tapstack::server {

void AcceptStream::end(const grpc::Status& status) {
  std::unique_lock lock(mutex_);
  if (!end_) end_ = status;
  wake(lock);
}

void AcceptStream::wake(std::unique_lock<std::mutex>& lock) {
  if (!reader_waits_) return;
  reader_waits_ = false;
  lock.unlock();
  if (auto reader = reader_.lock()) reader->ready();
}

std::optional<AcceptStream::Batch> AcceptStream::take() {
  std::lock_guard lock(mutex_);
  if (ready_.empty() && !finished()) {
    reader_waits_ = true;
    return std::nullopt;
  }
  Batch out;
  out.freed_room = ready_.size() >= capacity_;
  out.connections.swap(ready_);
  if (finished()) out.end = end_.value_or(grpc::Status::OK);
  return out;
}

bool AcceptStream::few_ready() const {
  std::lock_guard lock(mutex_);
  return !ready_.empty() && !finished() && ready_.size() < capacity_ / 2;
}

std::vector<EndpointInfo> AcceptStream::abandon() {
  std::lock_guard lock(mutex_);
  abandoned_ = true;
  reader_waits_ = false;
  return std::move(ready_);
}

}  // namespace tapstack::server
