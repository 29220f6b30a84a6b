#include "stack/link/vnet_header.h"

#include <cstring>

#include "stack/header/checksum.h"

namespace tapstack::link {
namespace {

// struct virtio_net_hdr as linux/virtio_net.h declares it (C++ cannot include that header: a
// field of another struct there is named `class`), in the host's byte order, a TAP's default.
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(virtio_net_hdr) == kVnetHeaderSize);
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;

}  // namespace

std::span<const uint8_t> frame_after_vnet_header(std::span<uint8_t> bytes) {
  if (bytes.size() < kVnetHeaderSize) return {};
  virtio_net_hdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  std::span<uint8_t> frame = bytes.subspan(kVnetHeaderSize);
  if (header.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    // The kernel left the sum of the pseudo-header in the checksum field (CHECKSUM_PARTIAL):
    // the sum from csum_start to the end, that field included, is the checksum to store.
    const size_t start = header.csum_start;
    const size_t field = start + header.csum_offset;
    if (start > frame.size() || field + 2 > frame.size()) return {};
    const uint16_t sum = header::checksum_finish(header::checksum_add(0, frame.subspan(start)));
    frame[field] = static_cast<uint8_t>(sum >> 8);
    frame[field + 1] = static_cast<uint8_t>(sum);
  }
  return frame;
}

void write_vnet_header(std::span<uint8_t, kVnetHeaderSize> out, const FrameOffload& offload) {
  virtio_net_hdr header{};
  if (offload.checksum_start) {
    header.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    header.csum_start = offload.checksum_start;
    header.csum_offset = offload.checksum_offset;
  }
  header.gso_type = offload.segment_size ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_NONE;
  header.gso_size = offload.segment_size;
  header.hdr_len = offload.header_length;
  std::memcpy(out.data(), &header, sizeof header);
}

}  // namespace tapstack::link
