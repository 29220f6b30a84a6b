#include "stack/link/vnet_header.h"

#include <cstring>
#include <utility>

#include "stack/header/ethernet.h"
#include "stack/header/icmp.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

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
constexpr uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;

// Where an IPv4 packet's TCP or ICMP checksum sum starts and where its field is, from that
// start (csum_start, csum_offset); {0, 0} for any other frame.
std::pair<uint16_t, uint16_t> ipv4_transport_checksum_at(std::span<const uint8_t> packet) {
  auto ip = header::Ipv4View::parse(packet);
  if (!ip) return {};
  const auto start = static_cast<uint16_t>(header::EthernetView::kSize + ip->header_length());
  switch (ip->protocol()) {
    case header::kProtocolTcp:
      return {start, header::TcpView::kChecksumOffset};
    case header::kProtocolIcmp:
      return {start, header::IcmpView::kChecksumOffset};
    default:
      return {};
  }
}

// The same for an IPv6 packet's TCP or ICMPv6 checksum, straight after the fixed header: the
// kernel's sockets put no extension headers in what they send us.
std::pair<uint16_t, uint16_t> ipv6_transport_checksum_at(std::span<const uint8_t> packet) {
  auto ip = header::Ipv6View::parse(packet);
  if (!ip) return {};
  constexpr auto start =
      static_cast<uint16_t>(header::EthernetView::kSize + header::Ipv6View::kHeaderSize);
  switch (ip->next_header()) {
    case header::kProtocolTcp:
      return {start, header::TcpView::kChecksumOffset};
    case header::kProtocolIcmpv6:
      return {start, header::Icmpv6View::kChecksumOffset};
    default:
      return {};
  }
}

std::pair<uint16_t, uint16_t> transport_checksum_at(std::span<const uint8_t> frame) {
  auto eth = header::EthernetView::parse(frame);
  if (!eth) return {};
  switch (eth->ether_type()) {
    case header::kEtherTypeIpv4:
      return ipv4_transport_checksum_at(eth->payload());
    case header::kEtherTypeIpv6:
      return ipv6_transport_checksum_at(eth->payload());
    default:
      return {};
  }
}

}  // namespace

VnetFrame frame_after_vnet_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kVnetHeaderSize) return {};
  virtio_net_hdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  std::span<const uint8_t> frame = bytes.subspan(kVnetHeaderSize);
  if (header.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    // The kernel left the pseudo-header's sum in the field at csum_start + csum_offset
    // (CHECKSUM_PARTIAL). Nothing reads that field but a check, which such a frame skips, when
    // the sum is the transport checksum's, as the kernel's own sockets make it; a sum anywhere
    // else (a raw sender's) leaves the frame to be checked, and its unfinished field fails, as
    // in Linux, which trusts CHECKSUM_PARTIAL only from the transport header on.
    const size_t field = size_t{header.csum_start} + header.csum_offset;
    if (field + 2 > frame.size()) return {};
    const bool transport =
        transport_checksum_at(frame) == std::pair{header.csum_start, header.csum_offset};
    return {frame, transport ? RxChecksum::kVerified : RxChecksum::kUnverified};
  }
  if (header.flags & VIRTIO_NET_HDR_F_DATA_VALID) return {frame, RxChecksum::kVerified};
  return {frame, RxChecksum::kUnverified};
}

void write_vnet_header(std::span<uint8_t, kVnetHeaderSize> out, const FrameOffload& offload) {
  virtio_net_hdr header{};
  if (offload.checksum_start) {
    header.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    header.csum_start = offload.checksum_start;
    header.csum_offset = offload.checksum_offset;
  }
  if (offload.segment_size) {
    header.gso_type = offload.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  }
  header.gso_size = offload.segment_size;
  header.hdr_len = offload.header_length;
  std::memcpy(out.data(), &header, sizeof header);
}

}  // namespace tapstack::link
