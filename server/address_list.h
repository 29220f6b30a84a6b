// The stack's addresses as people read them, for GetConfig and the startup line.
#pragma once

#include <string>
#include <vector>

#include "stack/engine_config.h"

namespace tapstack::server {

// Every address with its prefix: the IPv4 one, the IPv6 ones in --address order, then the IPv6
// link-local one (fe80::/64, from the MAC), e.g. "198.18.0.2/24", "2001:db8::2/64",
// "fe80::ff:fe00:2/64".
std::vector<std::string> address_list(const EngineConfig& config);

}  // namespace tapstack::server
