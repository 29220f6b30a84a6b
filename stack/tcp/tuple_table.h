// A demux table keyed by tuple (connections, half-open and TIME-WAIT records) that keeps the
// kernel cookie path's live-tuple counts in step: every record enters and leaves through here,
// so none can be missed and the program never answers a segment for a tuple the engine holds.
#pragma once

#include <cstddef>
#include <unordered_map>

#include "stack/tcp/cookie_path.h"
#include "stack/tcp/four_tuple.h"

namespace tapstack::tcp {

template <class V>
class TupleTable {
 public:
  using Map = std::unordered_map<FourTuple, V, FourTupleHash>;
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  TupleTable(FourTupleHash hash, CookiePath& path) : map_(0, hash), path_(path) {}
  TupleTable(const TupleTable&) = delete;
  TupleTable& operator=(const TupleTable&) = delete;

  // The record of `tuple`, value-initialised if it is new.
  V& insert(const FourTuple& tuple) {
    auto [it, inserted] = map_.try_emplace(tuple);
    if (inserted) path_.add_live(tuple);
    return it->second;
  }
  iterator erase(iterator it) {
    path_.remove_live(it->first);
    return map_.erase(it);
  }
  void erase(const FourTuple& tuple) {
    if (auto it = map_.find(tuple); it != map_.end()) erase(it);
  }
  void clear() {
    for (const auto& entry : map_) path_.remove_live(entry.first);
    map_.clear();
  }
  // Counts what the table holds, for a cookie path attached after records were made.
  void count_live() const {
    for (const auto& entry : map_) path_.add_live(entry.first);
  }

  iterator find(const FourTuple& tuple) { return map_.find(tuple); }
  const_iterator find(const FourTuple& tuple) const { return map_.find(tuple); }
  bool contains(const FourTuple& tuple) const { return map_.contains(tuple); }
  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  size_t size() const { return map_.size(); }

 private:
  Map map_;
  CookiePath& path_;
};

}  // namespace tapstack::tcp
