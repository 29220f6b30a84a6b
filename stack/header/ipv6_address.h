// IPv6 addresses (RFC 4291) as small value types, with the addresses Neighbour Discovery derives
// from them: solicited-node groups, their Ethernet multicast MACs, EUI-64 link-local addresses.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "stack/header/addresses.h"

namespace tapstack {

// An IPv6 address held in network byte order, as it lies in a header.
struct Ipv6Address {
  std::array<uint8_t, 16> bytes{};

  static Ipv6Address from(const uint8_t* p) {
    Ipv6Address a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  // Parses the text forms of RFC 4291 §2.2: eight groups of 1 to 4 hex digits, at most one "::"
  // for one or more zero groups, and optionally a dotted quad for the last two groups. No zone
  // ("%eth0"), no brackets, no prefix.
  static std::optional<Ipv6Address> parse(std::string_view text);
  // fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 Appendix A,
  // RFC 2464 §4-5): ff:fe in the middle and the universal/local bit inverted.
  static Ipv6Address link_local_from_mac(const MacAddress& mac);

  void write(uint8_t* p) const { std::memcpy(p, bytes.data(), 16); }
  // The kinds of address of RFC 4291 §2.4 that this stack tells apart.
  bool is_unspecified() const { return *this == Ipv6Address{}; }  // ::
  bool is_loopback() const;                                       // ::1
  bool is_multicast() const { return bytes[0] == 0xff; }          // ff00::/8
  bool is_link_local() const;                                     // fe80::/10
  bool is_v4_mapped() const;                                      // ::ffff:0:0/96
  bool is_solicited_node() const;                                 // ff02::1:ff00:0/104
  // The solicited-node group of this address: ff02::1:ff and its low 24 bits (RFC 4291 §2.7.1).
  Ipv6Address solicited_node() const;
  // The Ethernet destination of this multicast address: 33:33 and its low 32 bits (RFC 2464 §7).
  MacAddress multicast_mac() const;
  // RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as "::"
  // (the first of equal runs), and ::ffff:a.b.c.d for IPv4-mapped addresses (§5).
  std::string to_string() const;
  auto operator<=>(const Ipv6Address&) const = default;
};

// An address with its prefix length, e.g. 2001:db8::2/64.
struct Ipv6Subnet {
  Ipv6Address address;
  uint8_t prefix = 128;

  // Parses "address/n" with 0 <= n <= 128.
  static std::optional<Ipv6Subnet> parse(std::string_view text);
  bool contains(const Ipv6Address& a) const;
  std::string to_string() const;
  bool operator==(const Ipv6Subnet&) const = default;
};

}  // namespace tapstack

template <>
struct std::hash<tapstack::Ipv6Address> {
  size_t operator()(const tapstack::Ipv6Address& a) const noexcept {
    uint64_t high;
    uint64_t low;
    std::memcpy(&high, a.bytes.data(), 8);
    std::memcpy(&low, a.bytes.data() + 8, 8);
    // Neighbours on a link share the high half; the odd multiplier spreads the low half's bits
    // before they meet it.
    return std::hash<uint64_t>{}(high ^ (low * 0x9e3779b97f4a7c15ULL));
  }
};
