#include "server/shards.h"

namespace tapstack::server {

Shard& Shards::of(EndpointId id) {
  if (shards_.size() == 1) return shards_[0];
  std::lock_guard lock(mutex_);
  if (auto it = moved_.find(id); it != moved_.end()) return shards_[it->second];
  return shards_[id % shards_.size()];
}

bool Shards::owns(const Shard& shard, EndpointId id) const {
  if (moved_count_.load(std::memory_order_acquire) != 0) {
    std::lock_guard lock(mutex_);
    if (auto it = moved_.find(id); it != moved_.end()) return it->second == shard.index;
  }
  return id % shards_.size() == shard.index;
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
  moved_.erase(id);
  moved_count_.store(moved_.size(), std::memory_order_release);
}

void Shards::move(EndpointId id, size_t shard) {
  std::lock_guard lock(mutex_);
  groups_.erase(id);
  moved_[id] = shard;
  moved_count_.store(moved_.size(), std::memory_order_release);
}

}  // namespace tapstack::server
