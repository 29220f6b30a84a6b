// Neighbour Discovery (RFC 4861): neighbour solicitation and advertisement views, with the
// validity checks of §7.1.1 and §7.1.2 that the packet alone decides, and their writers. What a
// message means for the neighbour cache is for the caller to decide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv6.h"
#include "stack/header/ipv6_address.h"

namespace tapstack::header {

// ND messages are sent with hop limit 255 and taken only with it: no router on the way can
// have forwarded them (RFC 4861 §3.1).
inline constexpr uint8_t kNdpHopLimit = 255;

namespace ndp_option {
inline constexpr uint8_t kSourceLinkLayerAddress = 1;
inline constexpr uint8_t kTargetLinkLayerAddress = 2;
// An Ethernet link-layer address option: type, length 1 (in units of 8 bytes), the MAC
// (RFC 2464 §6).
inline constexpr size_t kLinkLayerAddressSize = 8;
}  // namespace ndp_option

// A neighbour solicitation or advertisement without options: the ICMPv6 header and the target.
inline constexpr size_t kNeighbourMessageSize = 24;
// The most the writers below write: that and one link-layer address option.
inline constexpr size_t kMaxNeighbourMessageSize =
    kNeighbourMessageSize + ndp_option::kLinkLayerAddressSize;

// The options of an ND message that this stack reads (RFC 4861 §4.6); the others are ignored,
// as the RFC asks. Of two options of one type, the first counts (as in Linux).
struct NdpOptions {
  std::optional<MacAddress> source_link_layer;
  std::optional<MacAddress> target_link_layer;
};
// nullopt if the options are malformed: one of length 0 (which invalidates the whole message,
// RFC 4861 §4.6), one past the end, or a link-layer address option of other than 8 bytes.
std::optional<NdpOptions> parse_ndp_options(std::span<const uint8_t> options);

// A neighbour solicitation (RFC 4861 §4.3).
class NeighbourSolicitationView {
 public:
  // Takes a solicitation that passes RFC 4861 §7.1.1, but for the checksum, which the caller
  // checks for every ICMPv6 message (Icmpv6View::checksum_ok): hop limit 255, code 0, at least
  // 24 bytes, a unicast target, well-formed options, and from the unspecified address (duplicate
  // address detection) only to a solicited-node group and without a source link-layer address.
  static std::optional<NeighbourSolicitationView> parse(const Ipv6View& ip, const Icmpv6View& icmp);

  Ipv6Address target() const { return Ipv6Address::from(message_ + 8); }
  const std::optional<MacAddress>& source_link_layer() const { return options_.source_link_layer; }

 private:
  NeighbourSolicitationView(const uint8_t* message, NdpOptions options)
      : message_(message), options_(options) {}
  const uint8_t* message_;
  NdpOptions options_;
};

struct NeighbourAdvertisementFlags {
  bool router = false;     // R: the sender is a router
  bool solicited = false;  // S: an answer to a solicitation
  bool override = false;   // O: the link-layer address replaces a cached one
  bool operator==(const NeighbourAdvertisementFlags&) const = default;
};

// A neighbour advertisement (RFC 4861 §4.4).
class NeighbourAdvertisementView {
 public:
  // Takes an advertisement that passes RFC 4861 §7.1.2, but for the checksum (as above): hop
  // limit 255, code 0, at least 24 bytes, a unicast target, well-formed options, and no
  // Solicited flag when sent to a multicast address.
  static std::optional<NeighbourAdvertisementView> parse(const Ipv6View& ip,
                                                         const Icmpv6View& icmp);

  Ipv6Address target() const { return Ipv6Address::from(message_ + 8); }
  NeighbourAdvertisementFlags flags() const {
    return {(message_[4] & 0x80) != 0, (message_[4] & 0x40) != 0, (message_[4] & 0x20) != 0};
  }
  const std::optional<MacAddress>& target_link_layer() const { return options_.target_link_layer; }

 private:
  NeighbourAdvertisementView(const uint8_t* message, NdpOptions options)
      : message_(message), options_(options) {}
  const uint8_t* message_;
  NdpOptions options_;
};

// Writes a neighbour solicitation for `target` in a packet from `src` to `dst` (the target's
// solicited-node group to resolve it, the target itself to probe it, RFC 4861 §7.2.2) and
// returns its size. It carries `source_mac` in a source link-layer address option, unless
// `src` is the unspecified address (duplicate address detection), which must not (§4.3).
size_t write_neighbour_solicitation(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                                    const Ipv6Address& target, const MacAddress& source_mac);

// Writes a neighbour advertisement for `target` with `flags` and `target_mac` in a target
// link-layer address option (RFC 4861 §4.4), in a packet from `src` to `dst`, and returns its
// size.
size_t write_neighbour_advertisement(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                                     const Ipv6Address& target, NeighbourAdvertisementFlags flags,
                                     const MacAddress& target_mac);

}  // namespace tapstack::header
