// TCP header view (RFC 9293 §3.1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/bytes.h"
#include "stack/header/checksum.h"
#include "stack/header/ipv4.h"

namespace tapstack::header {

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
}  // namespace tcp_flags

class TcpView {
 public:
  static constexpr size_t kMinSize = 20;
  static constexpr size_t kChecksumOffset = 16;

  static std::optional<TcpView> parse(std::span<const uint8_t> segment) {
    if (segment.size() < kMinSize) return std::nullopt;
    size_t header_length = (size_t{segment[12]} >> 4) * 4;
    if (header_length < kMinSize || header_length > segment.size()) return std::nullopt;
    return TcpView(segment, header_length);
  }

  uint16_t source_port() const { return load16(bytes_.data()); }
  uint16_t destination_port() const { return load16(bytes_.data() + 2); }
  uint32_t seq() const { return load32(bytes_.data() + 4); }
  uint32_t ack() const { return load32(bytes_.data() + 8); }
  size_t header_length() const { return header_length_; }
  uint8_t flags() const { return bytes_[13]; }
  bool has(uint8_t flag) const { return (bytes_[13] & flag) != 0; }
  uint16_t window() const { return load16(bytes_.data() + 14); }
  uint16_t checksum() const { return load16(bytes_.data() + 16); }
  std::span<const uint8_t> options() const { return bytes_.subspan(20, header_length_ - 20); }
  std::span<const uint8_t> payload() const { return bytes_.subspan(header_length_); }
  // Sequence space the segment occupies: data plus one for each of SYN and FIN.
  uint32_t sequence_length() const {
    return static_cast<uint32_t>(payload().size()) + (has(tcp_flags::kSyn) ? 1 : 0) +
           (has(tcp_flags::kFin) ? 1 : 0);
  }
  bool checksum_ok(const IpAddress& src, const IpAddress& dst) const {
    uint64_t sum = pseudo_header_sum(src, dst, kProtocolTcp, static_cast<uint32_t>(bytes_.size()));
    return checksum_finish(checksum_add(sum, bytes_)) == 0;
  }

 private:
  TcpView(std::span<const uint8_t> bytes, size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}
  std::span<const uint8_t> bytes_;
  size_t header_length_;
};

struct TcpHeaderFields {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
};

// Writes a TCP header whose options (already at out + 20, `options_length` bytes, a multiple of
// four) and payload follow it, and fills in the checksum over all of `segment_length` bytes.
// kFull: the checksum over the whole segment. kPartial: only the pseudo-header's sum, folded and
// not complemented, as a link that completes checksums (CHECKSUM_PARTIAL) expects it.
enum class TcpChecksum : uint8_t { kFull, kPartial };

inline void write_tcp(uint8_t* out, const TcpHeaderFields& f, size_t options_length,
                      size_t segment_length, const IpAddress& src, const IpAddress& dst,
                      TcpChecksum checksum = TcpChecksum::kFull) {
  store16(out, f.source_port);
  store16(out + 2, f.destination_port);
  store32(out + 4, f.seq);
  store32(out + 8, f.ack);
  out[12] = static_cast<uint8_t>((20 + options_length) / 4 << 4);
  out[13] = f.flags;
  store16(out + 14, f.window);
  store16(out + 16, 0);
  store16(out + 18, 0);
  uint64_t sum = pseudo_header_sum(src, dst, kProtocolTcp, static_cast<uint32_t>(segment_length));
  if (checksum == TcpChecksum::kPartial) {
    store16(out + 16, static_cast<uint16_t>(~checksum_finish(sum)));
    return;
  }
  store16(out + 16, checksum_finish(checksum_add(sum, {out, segment_length})));
}

}  // namespace tapstack::header
