// The daemon's engine loops, one per TAP queue (--queues), each with the hub that routes its
// events. Shared nothing: a loop owns the connections whose frames its queue carries, and the
// control plane finds an endpoint's loop from its id (ids are congruent to the loop's index
// modulo the number of loops: Tcp::allocate_id). Two kinds of endpoint span loops:
// - groups: a bound endpoint and the listener it becomes have a replica with the same id in
//   every loop (as a SO_REUSEPORT group has a socket per CPU), so that each loop accepts the
//   connections its queue carries; commands on a group go to every replica;
// - moved endpoints: a bound endpoint that connects runs in the loop its 4-tuple steers to.
// With one loop all of this is the identity.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/event_hub.h"
#include "server/handshake_histogram.h"
#include "stack/engine_loop.h"
#include "stack/tcp/admission_policy.h"

namespace tapstack::server {

struct Shard {
  EngineLoop& loop;
  EventHub& hub;
  HandshakeHistogram& histogram;  // the hub observes into it
  size_t index;
};

class Shards {
 public:
  explicit Shards(std::vector<Shard> shards) : shards_(std::move(shards)) {}
  Shards(const Shards&) = delete;
  Shards& operator=(const Shards&) = delete;

  size_t size() const { return shards_.size(); }
  Shard& operator[](size_t k) { return shards_[k]; }
  std::vector<Shard>::iterator begin() { return shards_.begin(); }
  std::vector<Shard>::iterator end() { return shards_.end(); }

  // Where endpoint `id` (or, for a group, its owner replica) lives.
  Shard& of(EndpointId id) { return shards_[index_of(id)]; }
  // The loop for a new endpoint: each in turn.
  Shard& next() { return shards_[next_.fetch_add(1, std::memory_order_relaxed) % size()]; }

  // Every loop's counters added into `sum`: the stack's.
  void add_stats(Stats& sum) {
    for (Shard& s : shards_) s.loop.stats().add_into(sum);
  }

  HandshakeHistogram::Snapshot histogram() const {
    HandshakeHistogram::Snapshot sum;
    for (const Shard& s : shards_) sum.add(s.histogram.snapshot());
    return sum;
  }
  // Whether `shard` holds `id` itself, not a replica of another loop's: what its hub publishes.
  bool owns(const Shard& shard, EndpointId id) const { return index_of(id) == shard.index; }

  // Groups: ids with a replica in every loop.
  bool is_group(EndpointId id) const;
  void add_group(EndpointId id);
  void forget(EndpointId id);  // closed: neither a group nor moved any more
  void move(EndpointId id, size_t shard);

  // A group listener's admission policy as it was set: each replica holds only its share
  // (admission_share.h), and this is what GetEndpoint shows. Nothing for other endpoints.
  void set_group_admission(EndpointId id, std::optional<tcp::AdmissionPolicy> policy);
  std::optional<tcp::AdmissionPolicy> group_admission(EndpointId id) const;

 private:
  size_t index_of(EndpointId id) const;

  std::vector<Shard> shards_;
  std::atomic<size_t> next_{0};
  mutable std::mutex mutex_;  // control-plane calls only, never the packet path
  std::unordered_set<EndpointId> groups_;
  std::unordered_map<EndpointId, size_t> moved_;
  std::unordered_map<EndpointId, tcp::AdmissionPolicy> group_admission_;
  std::atomic<size_t> moved_count_{0};  // moved_.size(): owns() looks only when there are some
};

}  // namespace tapstack::server
