#include "server/capture_limits.h"

#include <string>
#include <utility>

namespace tapstack::server {

CaptureLimits::Reservation& CaptureLimits::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (limits_) limits_->release(bytes_);
    limits_ = std::exchange(other.limits_, nullptr);
    bytes_ = other.bytes_;
  }
  return *this;
}

CaptureLimits::Reservation::~Reservation() {
  if (limits_) limits_->release(bytes_);
}

grpc::Status CaptureLimits::reserve(size_t bytes, Reservation& out) {
  std::lock_guard lock(mutex_);
  if (running_ >= max_captures_) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, std::to_string(running_) +
                                                      " captures are running (--max-captures " +
                                                      std::to_string(max_captures_) + ")"};
  }
  if (bytes > max_bytes_ - bytes_) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, "the capture's rings (" + std::to_string(bytes) +
                                                      " bytes) would exceed "
                                                      "--capture-memory " +
                                                      std::to_string(max_bytes_) + " (" +
                                                      std::to_string(bytes_) + " in use)"};
  }
  ++running_;
  bytes_ += bytes;
  out = Reservation(this, bytes);
  return grpc::Status::OK;
}

void CaptureLimits::release(size_t bytes) {
  std::lock_guard lock(mutex_);
  --running_;
  bytes_ -= bytes;
}

size_t CaptureLimits::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace tapstack::server
