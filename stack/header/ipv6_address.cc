#include "stack/header/ipv6_address.h"

#include <algorithm>
#include <cstdio>

#include "stack/header/number_text.h"

namespace tapstack {
namespace {

// Up to eight 16-bit groups read from text, in order.
struct Groups {
  std::array<uint16_t, 8> value{};
  size_t count = 0;
};

// Parses colon-separated groups of 1 to 4 hex digits; an empty `text` is no groups. When
// `ipv4_allowed`, the last part may be a dotted quad, which counts as two groups (RFC 4291 §2.2
// form 3). Stops at nine groups, so any input is read in bounded steps.
std::optional<Groups> parse_groups(std::string_view text, bool ipv4_allowed) {
  Groups g;
  if (text.empty()) return g;
  while (true) {
    const size_t colon = text.find(':');
    const std::string_view part = text.substr(0, colon);
    const bool last = colon == std::string_view::npos;
    if (last && ipv4_allowed && part.find('.') != std::string_view::npos) {
      auto v4 = Ipv4Address::parse(part);
      if (!v4 || g.count > 6) return std::nullopt;
      g.value[g.count++] = static_cast<uint16_t>(v4->value >> 16);
      g.value[g.count++] = static_cast<uint16_t>(v4->value);
      return g;
    }
    auto group = parse_hex(part, 4);
    if (!group || g.count == 8) return std::nullopt;
    g.value[g.count++] = static_cast<uint16_t>(*group);
    if (last) return g;
    text.remove_prefix(colon + 1);
  }
}

void put_group(Ipv6Address& a, size_t index, uint16_t group) {
  a.bytes[2 * index] = static_cast<uint8_t>(group >> 8);
  a.bytes[2 * index + 1] = static_cast<uint8_t>(group);
}

}  // namespace

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
  Ipv6Address a;
  const size_t gap = text.find("::");
  if (gap == std::string_view::npos) {
    auto groups = parse_groups(text, true);
    if (!groups || groups->count != 8) return std::nullopt;
    for (size_t i = 0; i < 8; ++i) put_group(a, i, groups->value[i]);
    return a;
  }
  // "::" stands for at least one zero group; a second "::" leaves an empty group in `tail`.
  auto head = parse_groups(text.substr(0, gap), false);
  auto tail = parse_groups(text.substr(gap + 2), true);
  if (!head || !tail || head->count + tail->count > 7) return std::nullopt;
  for (size_t i = 0; i < head->count; ++i) put_group(a, i, head->value[i]);
  for (size_t i = 0; i < tail->count; ++i) put_group(a, 8 - tail->count + i, tail->value[i]);
  return a;
}

Ipv6Address Ipv6Address::link_local_from_mac(const MacAddress& mac) {
  const auto& m = mac.bytes;
  return {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe,
           m[3], m[4], m[5]}};
}

bool Ipv6Address::is_loopback() const {
  return *this == Ipv6Address{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
}

bool Ipv6Address::is_link_local() const {
  return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

bool Ipv6Address::is_v4_mapped() const {
  constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix, kPrefix + 12, bytes.begin());
}

bool Ipv6Address::is_solicited_node() const {
  constexpr uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return std::equal(kPrefix, kPrefix + 13, bytes.begin());
}

Ipv6Address Ipv6Address::solicited_node() const {
  return {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, bytes[13], bytes[14], bytes[15]}};
}

MacAddress Ipv6Address::multicast_mac() const {
  return {{0x33, 0x33, bytes[12], bytes[13], bytes[14], bytes[15]}};
}

std::string Ipv6Address::to_string() const {
  if (is_v4_mapped()) return "::ffff:" + Ipv4Address::from(bytes.data() + 12).to_string();
  uint16_t groups[8];
  for (size_t i = 0; i < 8; ++i)
    groups[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  // The longest run of zero groups; a single zero group is never compressed (RFC 5952 §4.2.2),
  // and of equal runs the first is (§4.2.3).
  size_t run_start = 8;
  size_t run_length = 1;
  for (size_t i = 0; i < 8;) {
    size_t end = i;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - i > run_length) {
      run_start = i;
      run_length = end - i;
    }
    i = end == i ? i + 1 : end;
  }
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    if (i == run_start) {
      out += "::";
      i += run_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    char group[5];
    std::snprintf(group, sizeof group, "%x", groups[i]);
    out += group;
  }
  return out;
}

std::optional<Ipv6Subnet> Ipv6Subnet::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = Ipv6Address::parse(text.substr(0, slash));
  auto prefix = parse_decimal(text.substr(slash + 1), 128);
  if (!address || !prefix) return std::nullopt;
  return Ipv6Subnet{*address, static_cast<uint8_t>(*prefix)};
}

bool Ipv6Subnet::contains(const Ipv6Address& a) const {
  const size_t whole = prefix / 8;
  if (!std::equal(a.bytes.begin(), a.bytes.begin() + whole, address.bytes.begin())) return false;
  if (prefix % 8 == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return ((a.bytes[whole] ^ address.bytes[whole]) & mask) == 0;
}

std::string Ipv6Subnet::to_string() const {
  return address.to_string() + "/" + std::to_string(prefix);
}

}  // namespace tapstack
