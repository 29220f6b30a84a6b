#include "server/engine_snapshot.h"

#include <chrono>
#include <future>
#include <map>
#include <memory>

namespace tapstack::server {
namespace {

// One loop's tables. A replica (an endpoint whose own loop is another) is not counted by state:
// its group is counted once, where it lives.
EngineSnapshot loop_snapshot(Engine& engine, Shards& shards, size_t index) {
  EngineSnapshot s;
  s.endpoints_by_state = engine.count_by_state();
  for (const EndpointInfo& e : engine.list()) {
    bool replica = shards.size() > 1 && shards.of(e.id).index != index;
    if (replica) --s.endpoints_by_state[static_cast<size_t>(e.state)];
    if (e.connection) ++s.connections_by_family[static_cast<size_t>(e.remote_address.family())];
    if (!e.listener) continue;
    s.listeners.push_back(
        {e.id, e.local_address.to_string(e.local_port), e.local_port, *e.listener});
  }
  return s;
}

}  // namespace

std::optional<EngineSnapshot> take_snapshot(Shards& shards, Duration timeout) {
  std::vector<std::future<EngineSnapshot>> futures;
  for (Shard& shard : shards) {
    // Shared: if the wait times out, the loop still fulfils a promise nobody reads.
    auto promise = std::make_shared<std::promise<EngineSnapshot>>();
    futures.push_back(promise->get_future());
    shard.loop.post([promise, &shards, index = shard.index](Engine& engine) {
      promise->set_value(loop_snapshot(engine, shards, index));
    });
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  EngineSnapshot all;
  std::map<EndpointId, size_t> listener_at;  // id -> index in all.listeners
  for (auto& future : futures) {
    if (future.wait_until(deadline) != std::future_status::ready) return std::nullopt;
    EngineSnapshot s = future.get();
    for (size_t i = 0; i < s.endpoints_by_state.size(); ++i) {
      all.endpoints_by_state[i] += s.endpoints_by_state[i];
    }
    for (size_t i = 0; i < s.connections_by_family.size(); ++i) {
      all.connections_by_family[i] += s.connections_by_family[i];
    }
    for (ListenerSnapshot& l : s.listeners) {
      auto [it, first] = listener_at.try_emplace(l.id, all.listeners.size());
      if (first) {
        all.listeners.push_back(std::move(l));
        continue;
      }
      add_queues(all.listeners[it->second].queues, l.queues);
    }
  }
  return all;
}

}  // namespace tapstack::server
