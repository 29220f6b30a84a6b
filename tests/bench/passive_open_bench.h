// An in-memory engine for benchmarking the passive-open paths: 198.18.0.2/24 behind gateway
// 198.18.0.1 (already resolved), listening on port 80, its output kept by a sink that copies
// only the last frame, as a TAP writer would copy each. Clients are pre-built Linux-like frames
// from distinct off-link sources, so a benchmark measures the engine and not frame building.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "stack/engine.h"
#include "tests/tools/tcp_frames.h"

namespace tapstack::bench {

// Distinct client tuples per ring: more than a cache's worth of half-open records, few enough
// that a ring's frames stay small next to the engine's tables.
inline constexpr size_t kRing = 4096;
inline constexpr uint16_t kListenPort = 80;
inline constexpr Time kNow = seconds(1000);  // constant: cookies stay valid, ARP never expires

using SynFrame = std::array<uint8_t, tools::kSynFrameSize>;
using AckFrame = std::array<uint8_t, tools::kAckFrameSize>;

class LastFrameSink : public FrameSink {
 public:
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload&) override {
    size_ = std::min(frame.size(), buffer_.size());
    std::memcpy(buffer_.data(), frame.data(), size_);
    return true;
  }
  std::span<const uint8_t> last() const { return {buffer_.data(), size_}; }

 private:
  std::array<uint8_t, 128> buffer_{};
  size_t size_ = 0;
};

class PassiveOpenBench {
 public:
  // `syn_backlog` sizes the SYN-RCVD table; the accept queue holds kRing.
  PassiveOpenBench(tcp::SynCookieMode mode, uint32_t syn_backlog);

  Engine& engine() { return *engine_; }
  EndpointId listener() const { return listener_; }
  // Closes the listener (dropping its half-open records) and listens again on the same port.
  void relisten();

  // kRing SYNs from distinct sources in 198.19.0.0/16 with distinct ports.
  const std::vector<SynFrame>& syns() const { return syns_; }
  // For each SYN, its final ACK, still to be completed from the SYN-ACK by answer().
  std::vector<AckFrame>& acks() { return acks_; }
  // Completes `ack` from the SYN-ACK the engine sent last: SEG.ACK = its ISS + 1, TSecr = its
  // TSval. Reads at fixed offsets found on the first SYN-ACK: the engine's layout is fixed.
  void answer(AckFrame& ack);

 private:
  void listen();

  LastFrameSink sink_;
  std::unique_ptr<Engine> engine_;
  uint32_t syn_backlog_;
  EndpointId listener_ = 0;
  std::vector<SynFrame> syns_;
  std::vector<AckFrame> acks_;
  size_t tsval_offset_ = 0;
};

}  // namespace tapstack::bench
