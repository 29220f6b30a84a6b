#include "stack/tcp/source_table.h"

namespace tapstack::tcp {

SourceTable::SourceTable(uint32_t capacity, uint64_t seed, AdmissionCounters& counters)
    : capacity_(capacity), counters_(counters), entries_(0, AddressHash{seed}) {
  counters_.sources = 0;
}

SourceEntry* SourceTable::find(const IpAddress& prefix) {
  auto it = entries_.find(prefix);
  return it == entries_.end() ? nullptr : &it->second;
}

SourceEntry* SourceTable::visit(const IpAddress& prefix) {
  if (SourceEntry* e = find(prefix)) {
    if (e->listed) {
      unlist(*e);
      list_newest(*e);
    }
    return e;
  }
  if (entries_.size() >= capacity_) {
    if (!oldest_) return nullptr;
    evict_oldest();
  }
  return &make(prefix);
}

SourceEntry& SourceTable::at(const IpAddress& prefix) {
  if (SourceEntry* e = find(prefix)) return *e;
  return make(prefix);
}

SourceEntry& SourceTable::make(const IpAddress& prefix) {
  auto [it, inserted] = entries_.try_emplace(prefix);
  SourceEntry& e = it->second;
  e.key = &it->first;
  list_newest(e);
  counters_.sources = static_cast<uint32_t>(entries_.size());
  return e;
}

void SourceTable::counts_changed(SourceEntry& e) {
  if (e.pinned() && e.listed) {
    unlist(e);
  } else if (!e.pinned() && !e.listed) {
    list_newest(e);
    while (entries_.size() > capacity_ && oldest_) evict_oldest();
  }
}

void SourceTable::set_capacity(uint32_t capacity) {
  capacity_ = capacity;
  while (entries_.size() > capacity_ && oldest_) evict_oldest();
}

void SourceTable::list_newest(SourceEntry& e) {
  e.older = newest_;
  e.newer = nullptr;
  if (newest_) {
    newest_->newer = &e;
  } else {
    oldest_ = &e;
  }
  newest_ = &e;
  e.listed = true;
}

void SourceTable::unlist(SourceEntry& e) {
  (e.older ? e.older->newer : oldest_) = e.newer;
  (e.newer ? e.newer->older : newest_) = e.older;
  e.older = e.newer = nullptr;
  e.listed = false;
}

void SourceTable::evict_oldest() {
  SourceEntry& e = *oldest_;
  unlist(e);
  const IpAddress key = *e.key;  // not a reference into the node being erased
  entries_.erase(key);
  counters_.sources = static_cast<uint32_t>(entries_.size());
  ++counters_.sources_evicted;
}

}  // namespace tapstack::tcp
