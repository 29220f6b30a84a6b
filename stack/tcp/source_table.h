// The per-source-prefix table of a listener's admission: one entry per source prefix it
// tracks, with the SYN bucket and what the prefix holds (handshakes in progress, connections).
//
// Bounded: an entry that holds nothing is kept only while there is room, in a least-recently-
// seen list that gives up its oldest entry for a new source. Entries that hold a half-open
// record or a connection are pinned (their counts must stay right until those end), so with
// every entry pinned a new source finds no room and the caller refuses it. A spoofed flood from
// any number of sources therefore holds at most `capacity` entries.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "stack/clock.h"
#include "stack/tcp/address_hash.h"
#include "stack/tcp/admission_policy.h"

namespace tapstack::tcp {

struct SourceEntry {
  // When the SYN bucket is full again: GCRA's theoretical arrival time, which makes the same
  // decisions as a token bucket with one integer and no division per SYN. In the past: full.
  Time bucket_full_at{};
  uint32_t half_open = 0;
  uint32_t connections = 0;
  bool pinned() const { return half_open != 0 || connections != 0; }

 private:
  friend class SourceTable;
  const IpAddress* key = nullptr;  // the table's own copy
  SourceEntry* older = nullptr;    // the least-recently-seen list, of entries not pinned
  SourceEntry* newer = nullptr;
  bool listed = false;
};

class SourceTable {
 public:
  // Counts into `counters` (sources, sources_evicted), which outlive the table.
  SourceTable(uint32_t capacity, uint64_t seed, AdmissionCounters& counters);
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;
  ~SourceTable() { counters_.sources = 0; }

  // The entry of `prefix`, seen now; a new one if there is room or an entry to evict for it,
  // else null.
  SourceEntry* visit(const IpAddress& prefix);
  // The entry of `prefix`, made even past the capacity: for counting a record that exists
  // already (a table rebuilt under a new policy).
  SourceEntry& at(const IpAddress& prefix);
  SourceEntry* find(const IpAddress& prefix);
  // After `entry`'s counts changed: pins it or lists it as the most recently seen. With the
  // table past its capacity, its oldest unpinned entries go (`entry` may be among them: the
  // caller uses it no more).
  void counts_changed(SourceEntry& entry);

  size_t size() const { return entries_.size(); }
  // A new bound; past it, unpinned entries go oldest first.
  void set_capacity(uint32_t capacity);

 private:
  void list_newest(SourceEntry& entry);
  void unlist(SourceEntry& entry);
  void evict_oldest();
  SourceEntry& make(const IpAddress& prefix);

  uint32_t capacity_;
  AdmissionCounters& counters_;
  std::unordered_map<IpAddress, SourceEntry, AddressHash> entries_;
  SourceEntry* oldest_ = nullptr;
  SourceEntry* newest_ = nullptr;
};

}  // namespace tapstack::tcp
