// The virtio-net header a TAP opened with IFF_VNET_HDR puts before every frame, both ways
// (struct virtio_net_hdr, 10 bytes). It is what lets the kernel hand over its offloads
// (TUNSETOFFLOAD): a TCP segment of up to 64 KiB that its TSO or GRO made, sent as one frame
// instead of tens (gso_type, gso_size), with its checksum left partial (NEEDS_CSUM) as a NIC
// would complete it. We take such frames as one large segment (TCP does not care how the peer's
// bytes were cut), and a partial checksum as good (RxChecksum::kVerified), as Linux does: the
// bytes came from the kernel's memory. Frames we send ask for the same offloads back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/frame_sink.h"

namespace tapstack::link {

inline constexpr size_t kVnetHeaderSize = 10;  // sizeof(struct virtio_net_hdr)

struct VnetFrame {
  std::span<const uint8_t> frame;  // empty: the read was no frame
  RxChecksum checksum = RxChecksum::kUnverified;
};

// The Ethernet frame in `bytes` (one read from the TAP: the header, then the frame) and whether
// its transport checksum is vouched for (a partial one is, and stays partial: RxChecksum); the
// frame is empty when the header is malformed (a partial checksum's field outside the frame) or
// the read was shorter than a header.
VnetFrame frame_after_vnet_header(std::span<const uint8_t> bytes);

// Writes the header of a frame we send into `out`: what `offload` leaves to the kernel (a
// partial checksum to complete, a TCP segment to cut into segments of its segment_size).
void write_vnet_header(std::span<uint8_t, kVnetHeaderSize> out, const FrameOffload& offload);

}  // namespace tapstack::link
