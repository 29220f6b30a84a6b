// Link and network addresses as small value types (hashable, comparable, printable).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tapstack {

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  static MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddress from(const uint8_t* p) {
    MacAddress m;
    std::memcpy(m.bytes.data(), p, 6);
    return m;
  }
  // Parses "aa:bb:cc:dd:ee:ff".
  static std::optional<MacAddress> parse(std::string_view text);
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return (bytes[0] & 1) != 0; }
  std::string to_string() const;
  bool operator==(const MacAddress&) const = default;
};

// An IPv4 address held in host byte order, so that prefix arithmetic is plain integer math.
struct Ipv4Address {
  uint32_t value = 0;

  static Ipv4Address from(const uint8_t* p) {
    return {uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]}};
  }
  // Parses dotted-quad "a.b.c.d"; nothing else (no shorthand forms).
  static std::optional<Ipv4Address> parse(std::string_view text);
  void write(uint8_t* p) const {
    p[0] = static_cast<uint8_t>(value >> 24);
    p[1] = static_cast<uint8_t>(value >> 16);
    p[2] = static_cast<uint8_t>(value >> 8);
    p[3] = static_cast<uint8_t>(value);
  }
  bool is_unspecified() const { return value == 0; }
  bool is_multicast_or_broadcast() const { return (value >> 28) == 0xe || value == 0xffffffff; }
  bool is_loopback() const { return (value >> 24) == 127; }
  bool is_this_network() const { return (value >> 24) == 0; }  // 0.0.0.0/8
  bool is_multicast() const { return (value >> 28) == 0xe; }   // 224.0.0.0/4
  bool is_reserved() const { return (value >> 28) == 0xf; }    // 240.0.0.0/4, broadcast included
  // A source no host may send from (Linux's martians in ip_route_input_slow): 0/8, 127/8,
  // multicast, 240/4 and the limited broadcast.
  bool is_martian_source() const {
    return is_this_network() || is_loopback() || is_multicast() || is_reserved();
  }
  std::string to_string() const;
  auto operator<=>(const Ipv4Address&) const = default;
};

// An address with its prefix length, e.g. 198.18.0.2/24.
struct Ipv4Subnet {
  Ipv4Address address;
  uint8_t prefix = 32;

  // Parses "a.b.c.d/n" with 0 <= n <= 32.
  static std::optional<Ipv4Subnet> parse(std::string_view text);
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  bool contains(Ipv4Address a) const { return (a.value & mask()) == (address.value & mask()); }
  Ipv4Address broadcast() const { return {address.value | ~mask()}; }
  // Whether `a` could be another host talking to this one: not a martian, not this address,
  // not this subnet's broadcast (Linux's fib_validate_source rules, for IP and ARP alike).
  bool could_be_peer(Ipv4Address a) const {
    return !a.is_martian_source() && a != address && a != broadcast();
  }
  std::string to_string() const;
};

}  // namespace tapstack

template <>
struct std::hash<tapstack::Ipv4Address> {
  size_t operator()(tapstack::Ipv4Address a) const noexcept {
    return std::hash<uint32_t>{}(a.value);
  }
};
