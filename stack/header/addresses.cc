#include "stack/header/addresses.h"

#include <charconv>
#include <cstdio>

namespace tapstack {
namespace {

// Parses a decimal number in [0, max] that fills `text` exactly.
std::optional<unsigned> parse_number(std::string_view text, unsigned max) {
  unsigned v = 0;
  if (text.empty() || text.size() > 3) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

std::optional<unsigned> parse_hex_byte(std::string_view text) {
  unsigned v = 0;
  if (text.size() != 2) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + 2, v, 16);
  if (ec != std::errc{} || end != text.data() + 2) return std::nullopt;
  return v;
}

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  MacAddress m;
  for (size_t i = 0; i < 6; ++i) {
    auto byte = parse_hex_byte(text.substr(0, 2));
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
    auto part = parse_number(text.substr(0, dot), 255);
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
  auto prefix = parse_number(text.substr(slash + 1), 32);
  if (!address || !prefix) return std::nullopt;
  return Ipv4Subnet{*address, static_cast<uint8_t>(*prefix)};
}

std::string Ipv4Subnet::to_string() const {
  return address.to_string() + "/" + std::to_string(prefix);
}

}  // namespace tapstack
