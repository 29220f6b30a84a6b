#include "server/address_list.h"

namespace tapstack::server {

std::vector<std::string> address_list(const EngineConfig& config) {
  std::vector<std::string> out{config.address.to_string()};
  for (const Ipv6Subnet& subnet : config.ipv6_addresses) out.push_back(subnet.to_string());
  out.push_back(Ipv6Subnet{config.link_local(), 64}.to_string());
  return out;
}

}  // namespace tapstack::server
