// The virtio-net header of a TAP with offloads: a checksum the kernel left partial (or checked)
// is vouched for, a header that points outside its frame is refused, and ours say what we ask
// for.
#include "stack/link/vnet_header.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "stack/header/icmpv6.h"
#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

namespace tapstack::link {
namespace {

constexpr size_t kTcpStart = 14 + 20;  // Ethernet and IPv4 headers
const Ipv4Address kSource{0xc6120001u};
const Ipv4Address kDestination{0xc6120002u};

// A frame read from the TAP: the header, then Ethernet (addresses beside the point), IPv4 and a
// TCP segment with `payload` bytes, its checksum complete.
std::vector<uint8_t> read_frame(size_t payload) {
  std::vector<uint8_t> bytes(kVnetHeaderSize + kTcpStart + 20 + payload);
  bytes[kVnetHeaderSize + 12] = 0x08;  // IPv4
  header::write_ipv4(bytes.data() + kVnetHeaderSize + 14, kSource, kDestination,
                     header::kProtocolTcp, static_cast<uint16_t>(20 + 20 + payload), 0, 64);
  uint8_t* tcp = bytes.data() + kVnetHeaderSize + kTcpStart;
  for (size_t i = 0; i < payload; ++i) tcp[20 + i] = static_cast<uint8_t>(i * 7);
  header::write_tcp(tcp, {1234, 80, 1, 2, header::tcp_flags::kAck, 100}, 0, 20 + payload, kSource,
                    kDestination);
  return bytes;
}

constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;

// The header the kernel writes: `flags`, and where a partial checksum starts and is stored.
void set_header(std::vector<uint8_t>& bytes, uint8_t flags, uint16_t start, uint16_t offset) {
  std::array<uint8_t, kVnetHeaderSize> header{};
  header[0] = flags;
  std::memcpy(&header[6], &start, 2);
  std::memcpy(&header[8], &offset, 2);
  std::memcpy(bytes.data(), header.data(), header.size());
}

TEST(VnetHeader, APartialChecksumIsVouchedForAndLeftAsItIs) {
  std::vector<uint8_t> bytes = read_frame(1000);
  // What the kernel leaves: the pseudo-header's sum, folded, not complemented.
  uint8_t* tcp = bytes.data() + kVnetHeaderSize + kTcpStart;
  header::write_tcp(tcp, {1234, 80, 1, 2, header::tcp_flags::kAck, 100}, 0, 1020, kSource,
                    kDestination, header::TcpChecksum::kPartial);
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kTcpStart, 16);
  VnetFrame read = frame_after_vnet_header(bytes);
  EXPECT_EQ(read.checksum, RxChecksum::kVerified);
  ASSERT_EQ(read.frame.size(), bytes.size() - kVnetHeaderSize);
  EXPECT_EQ(read.frame.data(), bytes.data() + kVnetHeaderSize) << "no copy, no change";
}

// A sum that starts or lands anywhere but the transport checksum (a raw sender's, never the
// kernel's sockets') vouches for nothing: the frame is checked, and its unfinished field fails.
TEST(VnetHeader, APartialChecksumElsewhereIsNotVouchedFor) {
  std::vector<uint8_t> bytes = read_frame(100);
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 50);
  EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kUnverified);
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kTcpStart, 40);  // in the payload
  EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kUnverified);
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kTcpStart, 16);
  EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kVerified);
  bytes[kVnetHeaderSize + 12] = 0x86;  // an IPv4 packet behind IPv6's EtherType (0x86dd)
  bytes[kVnetHeaderSize + 13] = 0xdd;
  EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kUnverified);
}

// IPv6: the TCP or ICMPv6 checksum straight after the 40-byte header is the transport's; an
// extension header in between moves it, and nothing is vouched for then.
TEST(VnetHeader, AnIpv6TransportChecksumIsVouchedFor) {
  const auto source = *Ipv6Address::parse("2001:db8::1");
  const auto destination = *Ipv6Address::parse("2001:db8::2");
  constexpr uint16_t kStart = 14 + 40;
  for (uint8_t protocol : {header::kProtocolTcp, header::kProtocolIcmpv6}) {
    SCOPED_TRACE(int{protocol});
    std::vector<uint8_t> bytes(kVnetHeaderSize + kStart + 40);
    bytes[kVnetHeaderSize + 12] = 0x86;
    bytes[kVnetHeaderSize + 13] = 0xdd;
    header::write_ipv6(bytes.data() + kVnetHeaderSize + 14, source, destination, protocol, 40, 64,
                       0);
    const uint16_t field = protocol == header::kProtocolTcp ? header::TcpView::kChecksumOffset
                                                            : header::Icmpv6View::kChecksumOffset;
    set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kStart, field);
    EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kVerified);
    set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kStart + 8, field);  // past an extension
    EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kUnverified);
    bytes[kVnetHeaderSize + 14 + 6] = 17;  // UDP: not a transport of ours
    set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kStart, field);
    EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kUnverified);
  }
}

TEST(VnetHeader, AChecksumTheKernelCheckedIsVouchedFor) {
  std::vector<uint8_t> bytes = read_frame(10);
  set_header(bytes, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0);
  EXPECT_EQ(frame_after_vnet_header(bytes).checksum, RxChecksum::kVerified);
}

TEST(VnetHeader, AFrameWithoutOffloadIsTakenAsItIsAndChecked) {
  std::vector<uint8_t> bytes = read_frame(10);
  VnetFrame read = frame_after_vnet_header(bytes);
  ASSERT_EQ(read.frame.size(), bytes.size() - kVnetHeaderSize);
  EXPECT_EQ(read.frame.data(), bytes.data() + kVnetHeaderSize);
  EXPECT_EQ(read.checksum, RxChecksum::kUnverified);
}

TEST(VnetHeader, AChecksumRangeOutsideTheFrameIsRefused) {
  std::vector<uint8_t> bytes = read_frame(10);
  const uint16_t frame_size = static_cast<uint16_t>(bytes.size() - kVnetHeaderSize);
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, frame_size + 1, 0);
  EXPECT_TRUE(frame_after_vnet_header(bytes).frame.empty());
  set_header(bytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, kTcpStart,
             static_cast<uint16_t>(frame_size - kTcpStart - 1));
  EXPECT_TRUE(frame_after_vnet_header(bytes).frame.empty()) << "the field's second byte is outside";
  std::vector<uint8_t> short_read(kVnetHeaderSize - 1);
  EXPECT_TRUE(frame_after_vnet_header(short_read).frame.empty());
}

TEST(VnetHeader, OurHeaderAsksForWhatTheFrameNeeds) {
  std::array<uint8_t, kVnetHeaderSize> out;
  write_vnet_header(out, {});
  EXPECT_EQ(out, (std::array<uint8_t, kVnetHeaderSize>{}));  // nothing: GSO_NONE, no flags
  write_vnet_header(
      out,
      {.segment_size = 1448, .checksum_start = 34, .checksum_offset = 16, .header_length = 66});
  EXPECT_EQ(out[0], 1);  // NEEDS_CSUM
  EXPECT_EQ(out[1], 1);  // VIRTIO_NET_HDR_GSO_TCPV4
  uint16_t field;
  std::memcpy(&field, &out[2], 2);
  EXPECT_EQ(field, 66);  // hdr_len
  std::memcpy(&field, &out[4], 2);
  EXPECT_EQ(field, 1448);  // gso_size
  std::memcpy(&field, &out[6], 2);
  EXPECT_EQ(field, 34);  // csum_start
  std::memcpy(&field, &out[8], 2);
  EXPECT_EQ(field, 16);  // csum_offset
}

}  // namespace
}  // namespace tapstack::link
