// The virtio-net header a TAP opened with IFF_VNET_HDR puts before every frame, both ways
// (struct virtio_net_hdr, 10 bytes). It is what lets the kernel hand over its offloads
// (TUNSETOFFLOAD): a TCP segment of up to 64 KiB that its TSO or GRO made, sent as one frame
// instead of tens (gso_type, gso_size), with its checksum left partial (NEEDS_CSUM) as a NIC
// would complete it. We take such frames as one large segment (TCP does not care how the peer's
// bytes were cut) and complete the checksum here, so that everything above the link sees a
// frame as if a NIC had delivered it. Frames we send carry a header that asks for nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/frame_sink.h"

namespace tapstack::link {

inline constexpr size_t kVnetHeaderSize = 10;  // sizeof(struct virtio_net_hdr)

// The Ethernet frame in `bytes` (one read from the TAP: the header, then the frame), its
// partial checksum completed when the header asks for it; empty when the header is malformed
// (its checksum range outside the frame) or the read was shorter than a header.
std::span<const uint8_t> frame_after_vnet_header(std::span<uint8_t> bytes);

// Writes the header of a frame we send into `out`: what `offload` leaves to the kernel (a
// partial checksum to complete, a TCP segment to cut into segments of its segment_size).
void write_vnet_header(std::span<uint8_t, kVnetHeaderSize> out, const FrameOffload& offload);

}  // namespace tapstack::link
