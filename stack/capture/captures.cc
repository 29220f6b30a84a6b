#include "stack/capture/captures.h"

#include <algorithm>
#include <ctime>

namespace tapstack::capture {

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Captures::attach(uint64_t id, const FilterSpec& spec, std::shared_ptr<CaptureRing> ring,
                      uint64_t hash_seed) {
  taps_.push_back({id, CaptureFilter(spec, hash_seed), std::move(ring)});
}

void Captures::detach(uint64_t id) {
  std::erase_if(taps_, [id](const Tap& tap) { return tap.id == id; });
}

void Captures::copy(Direction direction, std::span<const uint8_t> frame) {
  int64_t now = 0;  // read once per frame, and only if some capture takes it
  for (Tap& tap : taps_) {
    if (!tap.filter.match(direction, frame)) continue;
    if (now == 0) now = clock_();
    tap.ring->push(now, direction, frame);
  }
}

}  // namespace tapstack::capture
