#include "stack/header/ndp.h"

#include <array>
#include <cstring>

namespace tapstack::header {
namespace {

// The checks RFC 4861 §7.1.1 and §7.1.2 share, but for the checksum; the options if they pass.
std::optional<NdpOptions> check_neighbour_message(const Ipv6View& ip, const Icmpv6View& icmp,
                                                  uint8_t type) {
  const auto message = icmp.bytes();
  if (icmp.type() != type || icmp.code() != 0 || ip.hop_limit() != kNdpHopLimit ||
      message.size() < kNeighbourMessageSize ||
      Ipv6Address::from(message.data() + 8).is_multicast()) {
    return std::nullopt;
  }
  return parse_ndp_options(message.subspan(kNeighbourMessageSize));
}

// Writes a neighbour message: the reserved or flags word, the target and, unless `option_type`
// is 0, one link-layer address option.
size_t write_neighbour_message(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                               uint8_t type, uint32_t flags, const Ipv6Address& target,
                               uint8_t option_type, const MacAddress& mac) {
  std::array<uint8_t, kMaxNeighbourMessageSize - Icmpv6View::kHeaderSize> body{};
  target.write(body.data());
  size_t body_size = kNeighbourMessageSize - Icmpv6View::kHeaderSize;
  if (option_type != 0) {
    uint8_t* option = body.data() + body_size;
    option[0] = option_type;
    option[1] = ndp_option::kLinkLayerAddressSize / 8;
    std::memcpy(option + 2, mac.bytes.data(), 6);
    body_size += ndp_option::kLinkLayerAddressSize;
  }
  write_icmpv6(out, src, dst, type, 0, flags, std::span(body).first(body_size));
  return Icmpv6View::kHeaderSize + body_size;
}

}  // namespace

std::optional<NdpOptions> parse_ndp_options(std::span<const uint8_t> options) {
  NdpOptions result;
  while (!options.empty()) {
    if (options.size() < 2 || options[1] == 0) return std::nullopt;
    const size_t length = size_t{options[1]} * 8;
    if (length > options.size()) return std::nullopt;
    const uint8_t type = options[0];
    if (type == ndp_option::kSourceLinkLayerAddress ||
        type == ndp_option::kTargetLinkLayerAddress) {
      // Linux drops a message whose address does not fit the link's (ndisc_opt_addr_data).
      if (length != ndp_option::kLinkLayerAddressSize) return std::nullopt;
      auto& address = type == ndp_option::kSourceLinkLayerAddress ? result.source_link_layer
                                                                  : result.target_link_layer;
      if (!address) address = MacAddress::from(options.data() + 2);
    }
    options = options.subspan(length);
  }
  return result;
}

std::optional<NeighbourSolicitationView> NeighbourSolicitationView::parse(const Ipv6View& ip,
                                                                          const Icmpv6View& icmp) {
  auto options = check_neighbour_message(ip, icmp, icmpv6_type::kNeighbourSolicitation);
  if (!options) return std::nullopt;
  if (ip.source().is_unspecified() &&
      (!ip.destination().is_solicited_node() || options->source_link_layer)) {
    return std::nullopt;
  }
  return NeighbourSolicitationView(icmp.bytes().data(), *options);
}

std::optional<NeighbourAdvertisementView> NeighbourAdvertisementView::parse(
    const Ipv6View& ip, const Icmpv6View& icmp) {
  auto options = check_neighbour_message(ip, icmp, icmpv6_type::kNeighbourAdvertisement);
  if (!options) return std::nullopt;
  NeighbourAdvertisementView view(icmp.bytes().data(), *options);
  if (ip.destination().is_multicast() && view.flags().solicited) return std::nullopt;
  return view;
}

size_t write_neighbour_solicitation(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                                    const Ipv6Address& target, const MacAddress& source_mac) {
  const uint8_t option = src.is_unspecified() ? 0 : ndp_option::kSourceLinkLayerAddress;
  return write_neighbour_message(out, src, dst, icmpv6_type::kNeighbourSolicitation, 0, target,
                                 option, source_mac);
}

size_t write_neighbour_advertisement(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                                     const Ipv6Address& target, NeighbourAdvertisementFlags flags,
                                     const MacAddress& target_mac) {
  const uint32_t word = (flags.router ? 0x80000000u : 0) | (flags.solicited ? 0x40000000u : 0) |
                        (flags.override ? 0x20000000u : 0);
  return write_neighbour_message(out, src, dst, icmpv6_type::kNeighbourAdvertisement, word, target,
                                 ndp_option::kTargetLinkLayerAddress, target_mac);
}

}  // namespace tapstack::header
