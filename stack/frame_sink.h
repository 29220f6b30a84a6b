// Where the engine puts the frames it sends: the TAP writer in the daemon, a vector in tests.
#pragma once

#include <cstdint>
#include <span>

namespace tapstack {

// Work a frame leaves to the link, as a NIC would finish it (the virtio-net header's fields):
// a TCP checksum left partial (the pseudo-header's sum in its field), and the cutting of one
// large TCP segment into segments of `segment_size` bytes of payload (TSO). A frame that asks
// for neither is complete as it is. Only a link that takes offloads
// (EngineConfig::segmentation_offload) is handed frames that ask.
struct FrameOffload {
  uint16_t segment_size = 0;     // 0: the frame is one segment
  uint16_t checksum_start = 0;   // 0: every checksum is complete; else where the sum starts
  uint16_t checksum_offset = 0;  // where, from checksum_start, the checksum field is
  uint16_t header_length = 0;    // Ethernet, IP and TCP headers in front of the payload
  bool ipv6 = false;             // the segments to cut are TCP over IPv6

  bool any() const { return checksum_start != 0; }
};

// What the link vouches for in a frame it delivers, as skb->ip_summed tells Linux's receive path.
// kVerified: the transport checksum needs no check. The local kernel handed the frame over with
// its checksum left partial (NEEDS_CSUM: the bytes never left its memory, and Linux's own
// skb_csum_unnecessary takes CHECKSUM_PARTIAL as good), or its device checked it (DATA_VALID).
// Skipping it spares two passes over every payload: completing the sum, then checking it.
enum class RxChecksum : uint8_t { kUnverified, kVerified };

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `frame` is a complete Ethernet frame but for what `offload` asks, valid only during the
  // call. False if the link refused it.
  virtual bool send_frame(std::span<const uint8_t> frame, const FrameOffload& offload) = 0;
};

}  // namespace tapstack
