#include "stack/header/addresses.h"

#include <cstdio>

#include "stack/header/number_text.h"

namespace tapstack {

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  MacAddress m;
  for (size_t i = 0; i < 6; ++i) {
    // Two digits per byte, always: "2:0:0:0:0:1" is not taken.
    auto byte = text.size() >= 2 ? parse_hex(text.substr(0, 2), 2) : std::nullopt;
    if (!byte) return std::nullopt;
    m.bytes[i] = static_cast<uint8_t>(*byte);
    text.remove_prefix(2);
    if (i < 5) {
      if (text.empty() || text[0] != ':') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return m;
}

std::string MacAddress::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto part = parse_decimal(text.substr(0, dot), 255);
    if (!part) return std::nullopt;
    value = value << 8 | *part;
    text.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  return Ipv4Address{value};
}

std::string Ipv4Address::to_string() const {
  return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

std::optional<Ipv4Subnet> Ipv4Subnet::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = Ipv4Address::parse(text.substr(0, slash));
  auto prefix = parse_decimal(text.substr(slash + 1), 32);
  if (!address || !prefix) return std::nullopt;
  return Ipv4Subnet{*address, static_cast<uint8_t>(*prefix)};
}

std::string Ipv4Subnet::to_string() const {
  return address.to_string() + "/" + std::to_string(prefix);
}

}  // namespace tapstack
