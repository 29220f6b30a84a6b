// The virtio-net header of a TAP with offloads: the checksum the kernel left partial is
// completed, a header that points outside its frame is refused, and ours say what we ask for.
#include "stack/link/vnet_header.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "stack/header/checksum.h"
#include "stack/header/tcp.h"

namespace tapstack::link {
namespace {

constexpr size_t kTcpStart = 14 + 20;  // Ethernet and IPv4 headers
const Ipv4Address kSource{0xc6120001u};
const Ipv4Address kDestination{0xc6120002u};

// A frame read from the TAP: the header, then Ethernet, IPv4 (contents beside the point) and a
// TCP segment with `payload` bytes, its checksum complete.
std::vector<uint8_t> read_frame(size_t payload) {
  std::vector<uint8_t> bytes(kVnetHeaderSize + kTcpStart + 20 + payload);
  uint8_t* tcp = bytes.data() + kVnetHeaderSize + kTcpStart;
  for (size_t i = 0; i < payload; ++i) tcp[20 + i] = static_cast<uint8_t>(i * 7);
  header::write_tcp(tcp, {1234, 80, 1, 2, header::tcp_flags::kAck, 100}, 0, 20 + payload, kSource,
                    kDestination);
  return bytes;
}

// The header the kernel writes for a segment whose checksum it left to us.
void needs_checksum(std::vector<uint8_t>& bytes, uint16_t start, uint16_t offset) {
  std::array<uint8_t, kVnetHeaderSize> header{};
  header[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  std::memcpy(&header[6], &start, 2);
  std::memcpy(&header[8], &offset, 2);
  std::memcpy(bytes.data(), header.data(), header.size());
}

TEST(VnetHeader, APartialChecksumIsCompleted) {
  std::vector<uint8_t> bytes = read_frame(1000);
  std::vector<uint8_t> complete = bytes;
  // What the kernel leaves: the pseudo-header's sum, folded, not complemented.
  uint8_t* tcp = bytes.data() + kVnetHeaderSize + kTcpStart;
  header::write_tcp(tcp, {1234, 80, 1, 2, header::tcp_flags::kAck, 100}, 0, 1020, kSource,
                    kDestination, header::TcpChecksum::kPartial);
  ASSERT_NE(bytes, complete);
  needs_checksum(bytes, kTcpStart, 16);
  std::span<const uint8_t> frame = frame_after_vnet_header(bytes);
  ASSERT_EQ(frame.size(), complete.size() - kVnetHeaderSize);
  EXPECT_TRUE(std::equal(frame.begin(), frame.end(), complete.begin() + kVnetHeaderSize));
}

TEST(VnetHeader, AFrameWithoutOffloadIsTakenAsItIs) {
  std::vector<uint8_t> bytes = read_frame(10);
  std::span<const uint8_t> frame = frame_after_vnet_header(bytes);
  ASSERT_EQ(frame.size(), bytes.size() - kVnetHeaderSize);
  EXPECT_EQ(frame.data(), bytes.data() + kVnetHeaderSize);
}

TEST(VnetHeader, AChecksumRangeOutsideTheFrameIsRefused) {
  std::vector<uint8_t> bytes = read_frame(10);
  const uint16_t frame_size = static_cast<uint16_t>(bytes.size() - kVnetHeaderSize);
  needs_checksum(bytes, frame_size + 1, 0);
  EXPECT_TRUE(frame_after_vnet_header(bytes).empty());
  needs_checksum(bytes, kTcpStart, static_cast<uint16_t>(frame_size - kTcpStart - 1));
  EXPECT_TRUE(frame_after_vnet_header(bytes).empty()) << "the field's second byte is outside";
  std::vector<uint8_t> short_read(kVnetHeaderSize - 1);
  EXPECT_TRUE(frame_after_vnet_header(short_read).empty());
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
