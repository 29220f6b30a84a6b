#include "server/cookie_path_listeners.h"

#include <algorithm>
#include <atomic>

namespace tapstack::server {
namespace {

// The program adds to its counters atomically and the engine stores the mode whole, both
// through the same mapping; a relaxed atomic load sees a value one of them wrote.
template <class T>
T load(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

}  // namespace

std::vector<CookiePathListener> cookie_path_listeners(const tcp::CookiePathMemory& memory,
                                                      const EngineSnapshot& snapshot) {
  std::vector<uint16_t> ports;
  for (const ListenerSnapshot& l : snapshot.listeners) ports.push_back(l.port);
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  std::vector<CookiePathListener> out;
  if (!memory.listeners) return out;
  for (uint16_t port : ports) {
    const cookie_path_listener& l = memory.listeners[port];
    out.push_back({port, load(l.mode) == COOKIE_PATH_ON, load(l.synacks), load(l.acks_passed),
                   load(l.acks_refused), load(l.syns_dropped)});
  }
  return out;
}

}  // namespace tapstack::server
