// The kernel cookie path's three maps as plain memory, as the loader would map them, for the
// tests of what the engine publishes there.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {

struct SharedMemory {
  cookie_path_config config{};
  std::vector<cookie_path_listener> listeners = std::vector<cookie_path_listener>(65536);
  std::vector<uint32_t> live = std::vector<uint32_t>(COOKIE_PATH_LIVE_SLOTS);

  tcp::CookiePathMemory memory() { return {&config, listeners.data(), live.data()}; }
  // Records counted: each is counted in two slots.
  uint64_t live_total() const { return std::accumulate(live.begin(), live.end(), uint64_t{0}) / 2; }
  // The records of a tuple, as the program reads them: the lesser of its two slots.
  uint32_t live_at(const Peer& peer, uint16_t local_port) const {
    tcp::FourTuple t{to_engine(kOurIp), peer.address(), local_port, peer.port};
    uint64_t hash = tcp::FourTupleHash{config.tuple_seed}(t);
    return std::min(live[hash & (COOKIE_PATH_LIVE_SLOTS - 1)],
                    live[(hash >> 32) & (COOKIE_PATH_LIVE_SLOTS - 1)]);
  }
};

}  // namespace tapstack::engine_test
