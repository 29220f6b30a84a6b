// ARP for IPv4 over Ethernet (RFC 826): the only hardware/protocol pair a TAP carries.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/bytes.h"

namespace tapstack::header {

inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

class ArpView {
 public:
  static constexpr size_t kSize = 28;

  // Accepts only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4).
  static std::optional<ArpView> parse(std::span<const uint8_t> bytes) {
    if (bytes.size() < kSize) return std::nullopt;
    const uint8_t* p = bytes.data();
    if (load16(p) != 1 || load16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4) return std::nullopt;
    return ArpView(p);
  }

  uint16_t operation() const { return load16(p_ + 6); }
  MacAddress sender_mac() const { return MacAddress::from(p_ + 8); }
  Ipv4Address sender_ip() const { return Ipv4Address::from(p_ + 14); }
  MacAddress target_mac() const { return MacAddress::from(p_ + 18); }
  Ipv4Address target_ip() const { return Ipv4Address::from(p_ + 24); }

 private:
  explicit ArpView(const uint8_t* p) : p_(p) {}
  const uint8_t* p_;
};

inline void write_arp(uint8_t* out, uint16_t operation, const MacAddress& sender_mac,
                      Ipv4Address sender_ip, const MacAddress& target_mac, Ipv4Address target_ip) {
  store16(out, 1);
  store16(out + 2, 0x0800);
  out[4] = 6;
  out[5] = 4;
  store16(out + 6, operation);
  std::memcpy(out + 8, sender_mac.bytes.data(), 6);
  sender_ip.write(out + 14);
  std::memcpy(out + 18, target_mac.bytes.data(), 6);
  target_ip.write(out + 24);
}

}  // namespace tapstack::header
