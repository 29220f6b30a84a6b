// Conversions between libtins' addresses and ours for the header tests. They go through text, so
// that no byte-order assumption is shared with the code under test.
#pragma once

#include <tins/tins.h>

#include "stack/header/addresses.h"
#include "stack/header/ipv6_address.h"

namespace tapstack::header_test {

inline Ipv4Address Ours(const Tins::IPv4Address& a) {
  return *Ipv4Address::parse(a.to_string());
}
inline Ipv6Address Ours(const Tins::IPv6Address& a) {
  return *Ipv6Address::parse(a.to_string());
}
inline MacAddress Ours(const Tins::HWAddress<6>& a) {
  return *MacAddress::parse(a.to_string());
}
inline Tins::IPv6Address Theirs(const Ipv6Address& a) {
  return Tins::IPv6Address(a.to_string());
}

}  // namespace tapstack::header_test
