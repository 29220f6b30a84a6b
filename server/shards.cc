#include "server/shards.h"

namespace tapstack::server {

Shard& Shards::of(EndpointId id) {
  if (shards_.size() == 1) return shards_[0];
  std::lock_guard lock(mutex_);
  if (auto it = moved_.find(id); it != moved_.end()) return shards_[it->second];
  return shards_[id % shards_.size()];
}

bool Shards::owns(const Shard& shard, EndpointId id) const {
  if (id % shards_.size() == shard.index) return true;  // the common case, without the lock
  std::lock_guard lock(mutex_);
  auto it = moved_.find(id);
  return it != moved_.end() && it->second == shard.index;
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
}

void Shards::move(EndpointId id, size_t shard) {
  std::lock_guard lock(mutex_);
  groups_.erase(id);
  moved_[id] = shard;
}

}  // namespace tapstack::server
