// Where the engine puts the frames it sends: the TAP writer in the daemon, a vector in tests.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `frame` is a complete Ethernet frame, valid only during the call. False if the link
  // refused it.
  virtual bool send_frame(std::span<const uint8_t> frame) = 0;
};

}  // namespace tapstack
