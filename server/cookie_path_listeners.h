// The kernel cookie path per listening port, for /metrics and GetStats: the mode the engine
// published for the port and what the program counted there, read from the listeners map the
// two share (stack/link/bpf/cookie_path_abi.h). The map is by port, so listeners on the same
// port share one entry.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "server/engine_snapshot.h"
#include "stack/tcp/cookie_path.h"

namespace tapstack::server {

struct CookiePathListener {
  uint16_t port = 0;
  bool cookie_mode = false;
  uint64_t synacks = 0;
  uint64_t acks_passed = 0;
  uint64_t acks_refused = 0;
  uint64_t syns_dropped = 0;
};

// One per port that has a listener in `snapshot`, in port order. Safe from any thread: the
// fields are read whole, as the engine and the program write them.
std::vector<CookiePathListener> cookie_path_listeners(const tcp::CookiePathMemory& memory,
                                                      const EngineSnapshot& snapshot);

// The per-listener counters by name (exported as tapstack_kernel_cookie_<name>_total).
struct CookiePathListenerCounter {
  std::string_view name;
  std::string_view help;
  uint64_t CookiePathListener::*value;
};
inline constexpr CookiePathListenerCounter kCookiePathListenerCounters[] = {
    {"synacks", "SYNs the kernel cookie path answered with a cookie SYN-ACK, by listening port",
     &CookiePathListener::synacks},
    {"acks_passed", "ACKs with a valid cookie the kernel cookie path passed to the engine, by port",
     &CookiePathListener::acks_passed},
    {"acks_refused",
     "ACKs without a valid cookie the kernel cookie path answered with RST and dropped, by port",
     &CookiePathListener::acks_refused},
    {"syns_dropped",
     "SYNs the kernel cookie path dropped because the listener's accept queue was full, by port",
     &CookiePathListener::syns_dropped},
};

}  // namespace tapstack::server
