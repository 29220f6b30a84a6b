// Ethernet II header view (no VLAN tags: a TAP device does not add them).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/bytes.h"

namespace tapstack::header {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;

class EthernetView {
 public:
  static constexpr size_t kSize = 14;

  // Bounds are checked here once; accessors then read without checks.
  static std::optional<EthernetView> parse(std::span<const uint8_t> frame) {
    if (frame.size() < kSize) return std::nullopt;
    return EthernetView(frame);
  }

  MacAddress destination() const { return MacAddress::from(bytes_.data()); }
  MacAddress source() const { return MacAddress::from(bytes_.data() + 6); }
  uint16_t ether_type() const { return load16(bytes_.data() + 12); }
  std::span<const uint8_t> payload() const { return bytes_.subspan(kSize); }

 private:
  explicit EthernetView(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::span<const uint8_t> bytes_;
};

inline void write_ethernet(uint8_t* out, const MacAddress& dst, const MacAddress& src,
                           uint16_t ether_type) {
  std::memcpy(out, dst.bytes.data(), 6);
  std::memcpy(out + 6, src.bytes.data(), 6);
  store16(out + 12, ether_type);
}

}  // namespace tapstack::header
