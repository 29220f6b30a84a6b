// The counters kept outside the engine, exported by /metrics and GetStats alike: the frames the
// TAP's queue lost before the engine could read them, what the loop's busy polling caught, and
// what the kernel cookie path did with
// frames it did not count per listener (the program's per-CPU "stats" map, summed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/shards.h"
#include "stack/link/cookie_path_program.h"

namespace tapstack::server {

struct LinkCounter {
  std::string_view name;  // exported as tapstack_<name>_total
  std::string_view help;
  uint64_t value = 0;
};

// The TAP's queue drops (when /proc/net/dev has the TAP), the loops' busy-poll spins, then the
// cookie path's counters (when `cookie_path` is not null: the daemon runs with it attached).
std::vector<LinkCounter> link_counters(Shards& shards, const link::CookiePathProgram* cookie_path);

}  // namespace tapstack::server
