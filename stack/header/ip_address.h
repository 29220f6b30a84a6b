// An address of either family, as a dual-stack socket holds it (Linux's sk_v6_daddr, gVisor's
// tcpip.Address): an IPv6 address, with IPv4 addresses in their IPv4-mapped form
// (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). One type lets a tuple, a listener's binding and an
// endpoint's snapshot hold either family without a second field that could disagree with it.
// "0.0.0.0" and "::" stay apart: the first is IPv4's wildcard, the second both families'.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "stack/header/addresses.h"
#include "stack/header/ipv6_address.h"

namespace tapstack {

enum class IpFamily : uint8_t { kIpv4, kIpv6 };

// A set of families: what a binding takes (0.0.0.0: IPv4; ::, both or, v6-only, IPv6).
class IpFamilies {
 public:
  constexpr IpFamilies() = default;
  static constexpr IpFamilies of(IpFamily f) { return IpFamilies(bit(f)); }
  static constexpr IpFamilies both() { return IpFamilies(3); }
  constexpr bool has(IpFamily f) const { return (bits_ & bit(f)) != 0; }
  constexpr bool overlaps(IpFamilies other) const { return (bits_ & other.bits_) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr IpFamilies without(IpFamilies other) const {
    return IpFamilies(static_cast<uint8_t>(bits_ & ~other.bits_));
  }
  constexpr IpFamilies with(IpFamilies other) const {
    return IpFamilies(static_cast<uint8_t>(bits_ | other.bits_));
  }
  bool operator==(const IpFamilies&) const = default;

 private:
  constexpr explicit IpFamilies(uint8_t bits) : bits_(bits) {}
  static constexpr uint8_t bit(IpFamily f) {
    return static_cast<uint8_t>(1u << static_cast<int>(f));
  }
  uint8_t bits_ = 0;
};

struct IpAddress {
  Ipv6Address v6;  // IPv4-mapped for an IPv4 address

  IpAddress() = default;  // ::
  // Implicit both ways in: either family's address is an IpAddress.
  IpAddress(Ipv4Address a) {  // NOLINT(google-explicit-constructor)
    v6.bytes[10] = v6.bytes[11] = 0xff;
    a.write(v6.bytes.data() + 12);
  }
  IpAddress(const Ipv6Address& a) : v6(a) {}  // NOLINT(google-explicit-constructor)

  // A dotted quad is IPv4, anything else is parsed as IPv6 text (RFC 4291 §2.2); no brackets.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return v6.is_v4_mapped(); }
  IpFamily family() const { return is_v4() ? IpFamily::kIpv4 : IpFamily::kIpv6; }
  // The IPv4 address; only for is_v4().
  Ipv4Address v4() const { return Ipv4Address::from(v6.bytes.data() + 12); }
  // 0.0.0.0 or ::, the wildcards of bind().
  bool is_unspecified() const { return is_v4() ? v4().is_unspecified() : v6.is_unspecified(); }
  // Dotted quad for IPv4, RFC 5952 text for IPv6.
  std::string to_string() const { return is_v4() ? v4().to_string() : v6.to_string(); }
  // "a.b.c.d:port" or "[v6]:port" (RFC 5952 §6).
  std::string to_string(uint16_t port) const;
  auto operator<=>(const IpAddress&) const = default;
};

}  // namespace tapstack

template <>
struct std::hash<tapstack::IpAddress> {
  size_t operator()(const tapstack::IpAddress& a) const noexcept {
    return std::hash<tapstack::Ipv6Address>{}(a.v6);
  }
};
