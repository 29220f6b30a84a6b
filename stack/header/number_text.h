// The numbers inside address text. Each parser takes only digits that fill its text exactly (no
// sign, no "0x", no spaces), so that "1.2.3.4 " or "0x1::" never pass as an address.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string_view>

namespace tapstack {

// A decimal number of 1 to 3 digits, at most `max` (an octet, a prefix length).
inline std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
  unsigned v = 0;
  if (text.empty() || text.size() > 3) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

// A hexadecimal number of 1 to `max_digits` digits in either case (a MAC byte, an IPv6 group).
inline std::optional<unsigned> parse_hex(std::string_view text, size_t max_digits) {
  unsigned v = 0;
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace tapstack
