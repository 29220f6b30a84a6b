// Frames a Linux client sends to open a connection (its SYN and the final ACK), written with
// the engine's own header writers. The SYN-flood generator sends the SYNs with spoofed sources;
// the benchmarks feed both to an in-memory engine. Fixed sizes, so callers keep them in arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/header/addresses.h"

namespace tapstack::tools {

inline constexpr size_t kClientHeaders = 14 + 20 + 20;        // Ethernet, IPv4, TCP without options
inline constexpr size_t kSynFrameSize = kClientHeaders + 20;  // MSS, SACK-perm, TS, NOP, WS
inline constexpr size_t kAckFrameSize = kClientHeaders + 12;  // NOP, NOP, TS

// The fields that differ from one client segment to the next.
struct ClientSegment {
  MacAddress source_mac;
  MacAddress destination_mac;
  Ipv4Address source;
  Ipv4Address destination;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;  // the final ACK only
  uint32_t tsval = 0;
  uint32_t tsecr = 0;  // the final ACK only
  uint16_t ip_id = 0;
};

// One client's segment, 198.18.0.1:`source_port` to 198.18.0.2:8080 (MACs 02:00:00:00:00:01 to
// ...:02), for tests and benchmarks that need some connection's frames, not a particular one.
ClientSegment example_segment(uint16_t source_port = 40000, uint32_t seq = 1);

// Linux's SYN: window 64240, MSS 1460, SACK-permitted, timestamps, window scale 7, in Linux's
// option order.
void write_syn_frame(std::span<uint8_t, kSynFrameSize> out, const ClientSegment& segment);

// Linux's final ACK after such a SYN: window 502 (64240 scaled by 7), NOP, NOP, timestamps.
void write_ack_frame(std::span<uint8_t, kAckFrameSize> out, const ClientSegment& segment);

// Sets SEG.ACK and TSecr of a frame from write_ack_frame and corrects its TCP checksum
// incrementally (RFC 1624), so a benchmark can answer a SYN-ACK without rebuilding the frame.
void patch_ack_frame(std::span<uint8_t, kAckFrameSize> frame, uint32_t ack, uint32_t tsecr);

}  // namespace tapstack::tools
