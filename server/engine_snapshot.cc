#include "server/engine_snapshot.h"

#include <future>
#include <memory>

namespace tapstack::server {

std::optional<EngineSnapshot> take_snapshot(EngineLoop& loop, Duration timeout) {
  // Shared: if the wait times out, the loop still fulfils a promise nobody reads.
  auto promise = std::make_shared<std::promise<EngineSnapshot>>();
  auto future = promise->get_future();
  loop.post([promise](Engine& engine) {
    EngineSnapshot s;
    for (const EndpointInfo& e : engine.list()) {
      if (!e.listener) continue;
      s.listeners.push_back({e.id, e.local_address.to_string() + ":" + std::to_string(e.local_port),
                             e.local_port, *e.listener});
    }
    s.endpoints_by_state = engine.count_by_state();
    promise->set_value(std::move(s));
  });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace tapstack::server
