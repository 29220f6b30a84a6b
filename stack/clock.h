// Time as the engine sees it: a monotonic instant given to it by its owner. The engine never
// reads a clock itself, so tests move time by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace tapstack {

using Duration = std::chrono::nanoseconds;
// Nanoseconds on a monotonic clock whose epoch the owner chooses.
using Time = std::chrono::nanoseconds;

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The real clock that the event loop hands to the engine.
inline Time monotonic_now() {
  return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace tapstack
