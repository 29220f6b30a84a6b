#include "server/shards.h"

namespace tapstack::server {

size_t Shards::index_of(EndpointId id) const {
  // The id names its loop unless it moved; the table is looked at only while some id has.
  if (moved_count_.load(std::memory_order_acquire) != 0) {
    std::lock_guard lock(mutex_);
    if (auto it = moved_.find(id); it != moved_.end()) return it->second;
  }
  return id % shards_.size();
}

bool Shards::is_group(EndpointId id) const {
  std::lock_guard lock(mutex_);
  return groups_.contains(id);
}

void Shards::add_group(EndpointId id) {
  std::lock_guard lock(mutex_);
  groups_.insert(id);
}

void Shards::forget(EndpointId id) {
  std::lock_guard lock(mutex_);
  groups_.erase(id);
  group_admission_.erase(id);
  moved_.erase(id);
  moved_count_.store(moved_.size(), std::memory_order_release);
}

void Shards::move(EndpointId id, size_t shard) {
  std::lock_guard lock(mutex_);
  groups_.erase(id);
  group_admission_.erase(id);
  moved_[id] = shard;
  moved_count_.store(moved_.size(), std::memory_order_release);
}

void Shards::set_group_admission(EndpointId id, std::optional<tcp::AdmissionPolicy> policy) {
  std::lock_guard lock(mutex_);
  if (policy) {
    group_admission_.insert_or_assign(id, std::move(*policy));
  } else {
    group_admission_.erase(id);
  }
}

std::optional<tcp::AdmissionPolicy> Shards::group_admission(EndpointId id) const {
  std::lock_guard lock(mutex_);
  if (auto it = group_admission_.find(id); it != group_admission_.end()) return it->second;
  return std::nullopt;
}

}  // namespace tapstack::server
