#include "server/call_limiter.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <utility>

namespace tapstack::server {

CallLimiter::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      client_(std::move(other.client_)),
      status_(std::move(other.status_)) {}

CallLimiter::Slot& CallLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    client_ = std::move(other.client_);
    status_ = std::move(other.status_);
  }
  return *this;
}

CallLimiter::Slot::~Slot() {
  release();
}

void CallLimiter::Slot::release() {
  if (owner_) std::exchange(owner_, nullptr)->give_back(client_);
}

CallLimiter::Slot CallLimiter::admit(const grpc::ServerContextBase& ctx) {
  return admit(client_of(ctx));
}

CallLimiter::Slot CallLimiter::admit(const std::string& client) {
  Slot slot;
  std::lock_guard lock(mutex_);
  size_t& mine = by_client_[client];
  if (mine >= per_client_) {
    slot.status_ = {grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "client " + client + " already has " + std::to_string(mine) +
                        " calls in flight, the limit per client (--grpc-max-calls-per-client)"};
  } else if (in_flight_ >= total_) {
    slot.status_ = {grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "tapstackd already has " + std::to_string(in_flight_) +
                        " calls in flight, the limit in total (--grpc-max-calls)"};
  } else {
    ++mine;
    peak_ = std::max(peak_, ++in_flight_);
    slot.owner_ = this;
    slot.client_ = client;
    return slot;
  }
  if (mine == 0) by_client_.erase(client);
  return slot;
}

void CallLimiter::give_back(const std::string& client) {
  constexpr size_t kBurst = 128;
  bool burst_over = false;
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    auto it = by_client_.find(client);
    if (--it->second == 0) by_client_.erase(it);
    // Down to a quarter of the peak, and once more when the last call of the burst ends.
    if ((peak_ >= kBurst && in_flight_ <= peak_ / 4) || (in_flight_ == 0 && trim_at_idle_)) {
      burst_over = true;
      trim_at_idle_ = in_flight_ != 0;
      peak_ = in_flight_;
    }
  }
  if (burst_over) trimmer_.request();
}

size_t CallLimiter::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

std::string CallLimiter::client_of(const grpc::ServerContextBase& ctx) {
  if (auto auth = ctx.auth_context(); auth && auth->IsPeerAuthenticated()) {
    auto subject = auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
    if (!subject.empty()) return "cert:" + std::string(subject[0].data(), subject[0].size());
  }
  // "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path" or "unix:".
  std::string peer = ctx.peer();
  if (peer.starts_with("unix:")) return "unix";
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos && colon > peer.find(':')) peer.resize(colon);
  return peer;
}

}  // namespace tapstack::server
