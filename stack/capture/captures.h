// The captures running on one engine: each a filter and the ring its matching frames are
// copied into. The engine calls copy() for every frame it receives (before parsing) and every
// frame it hands to the link, only while any() (one test per frame otherwise). Loop thread
// only; the rings' readers are elsewhere (capture_ring.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "stack/capture/capture_filter.h"
#include "stack/capture/capture_ring.h"

namespace tapstack::capture {

// Wall-clock nanoseconds since the Unix epoch: what pcap records carry. The engine reads no
// clock of its own (engine.h); tests inject a fake.
using WallClock = int64_t (*)();
int64_t realtime_ns();

class Captures {
 public:
  // Starts copying the frames `spec` takes into `ring`, under `id` (unique per engine).
  // `hash_seed` keys the filter's handshake table.
  void attach(uint64_t id, const FilterSpec& spec, std::shared_ptr<CaptureRing> ring,
              uint64_t hash_seed = 0);
  // Stops it; the ring keeps what it holds for its reader. Unknown ids are ignored.
  void detach(uint64_t id);

  bool any() const { return !taps_.empty(); }
  size_t size() const { return taps_.size(); }
  // Copies `frame` into every capture that takes it, stamped with the wall clock.
  void copy(Direction direction, std::span<const uint8_t> frame);

  void set_wall_clock(WallClock clock) { clock_ = clock; }

 private:
  struct Tap {
    uint64_t id;
    CaptureFilter filter;
    std::shared_ptr<CaptureRing> ring;
  };
  std::vector<Tap> taps_;  // a few: --max-captures bounds them
  WallClock clock_ = realtime_ns;
};

}  // namespace tapstack::capture
