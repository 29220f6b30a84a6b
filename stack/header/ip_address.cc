#include "stack/header/ip_address.h"

namespace tapstack {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    if (auto v4 = Ipv4Address::parse(text)) return IpAddress(*v4);
    return std::nullopt;
  }
  if (auto v6 = Ipv6Address::parse(text)) return IpAddress(*v6);
  return std::nullopt;
}

std::string IpAddress::to_string(uint16_t port) const {
  std::string host = to_string();
  if (!is_v4()) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace tapstack
