// IPv4 header view (RFC 791).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/bytes.h"
#include "stack/header/checksum.h"

namespace tapstack::header {

inline constexpr uint8_t kProtocolTcp = 6;

class Ipv4View {
 public:
  static constexpr size_t kMinSize = 20;

  // Checks version, header length and total length against the bytes present; the view
  // then covers exactly total_length bytes (Ethernet padding is cut off).
  static std::optional<Ipv4View> parse(std::span<const uint8_t> bytes) {
    if (bytes.size() < kMinSize) return std::nullopt;
    const uint8_t* p = bytes.data();
    size_t header_length = size_t{p[0] & 0x0fu} * 4;
    size_t total_length = load16(p + 2);
    if ((p[0] >> 4) != 4 || header_length < kMinSize || total_length < header_length ||
        total_length > bytes.size()) {
      return std::nullopt;
    }
    return Ipv4View(bytes.first(total_length), header_length);
  }

  size_t header_length() const { return header_length_; }
  uint16_t total_length() const { return static_cast<uint16_t>(bytes_.size()); }
  uint16_t id() const { return load16(bytes_.data() + 4); }
  bool dont_fragment() const { return (bytes_[6] & 0x40) != 0; }
  // More-fragments set or a non-zero offset: part of a fragmented datagram.
  bool is_fragment() const { return (load16(bytes_.data() + 6) & 0x3fff) != 0; }
  uint8_t ttl() const { return bytes_[8]; }
  uint8_t protocol() const { return bytes_[9]; }
  uint16_t checksum() const { return load16(bytes_.data() + 10); }
  Ipv4Address source() const { return Ipv4Address::from(bytes_.data() + 12); }
  Ipv4Address destination() const { return Ipv4Address::from(bytes_.data() + 16); }
  bool checksum_ok() const {
    return checksum_finish(checksum_add(0, bytes_.first(header_length_))) == 0;
  }
  std::span<const uint8_t> payload() const { return bytes_.subspan(header_length_); }

 private:
  Ipv4View(std::span<const uint8_t> bytes, size_t header_length)
      : bytes_(bytes), header_length_(header_length) {}
  std::span<const uint8_t> bytes_;
  size_t header_length_;
};

// Writes a 20-byte header (no options, DF set) with its checksum.
inline void write_ipv4(uint8_t* out, Ipv4Address src, Ipv4Address dst, uint8_t protocol,
                       uint16_t total_length, uint16_t id, uint8_t ttl) {
  out[0] = 0x45;
  out[1] = 0;
  store16(out + 2, total_length);
  store16(out + 4, id);
  store16(out + 6, 0x4000);
  out[8] = ttl;
  out[9] = protocol;
  store16(out + 10, 0);
  src.write(out + 12);
  dst.write(out + 16);
  store16(out + 10, checksum_finish(checksum_add(0, {out, 20})));
}

}  // namespace tapstack::header
