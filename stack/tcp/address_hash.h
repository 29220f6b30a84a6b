// Hashes an address for the per-source table of admission (source_table.h). The sources are
// whoever sends SYNs, so the hash is SipHash under a per-process key: with an unkeyed or merely
// seeded mixer an attacker can find addresses that collide for every seed and pile them into
// one bucket.
#pragma once

#include <cstdint>

#include "stack/header/ip_address.h"
#include "stack/tcp/siphash.h"

namespace tapstack::tcp {

struct AddressHash {
  SipKey key;
  size_t operator()(const IpAddress& a) const noexcept { return siphash24(key, a.v6.bytes); }
};

}  // namespace tapstack::tcp
