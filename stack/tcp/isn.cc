#include "stack/tcp/isn.h"

#include <cstring>

namespace tapstack::tcp {
namespace {

uint32_t ports(const FourTuple& tuple) {
  return uint32_t{tuple.local_port} << 16 | tuple.remote_port;
}

// The fourth hashed word keeps the two uses of the one key apart: knowing a connection's
// timestamp offset tells nothing about its ISN offset, and the other way round.
constexpr uint32_t kIsnDomain = 0;
constexpr uint32_t kTimestampDomain = 1;

// F of RFC 6528 over the tuple and a domain word. IPv4 tuples hash four words, as the kernel
// cookie path also computes (link/bpf/cookie_path.bpf.c); IPv6 tuples hash both addresses
// whole, the ports and the domain, as Linux's secure_tcpv6_seq hashes the addresses.
uint32_t tuple_hash(const SipKey& key, const FourTuple& tuple, uint32_t domain) {
  if (tuple.family() == IpFamily::kIpv4) {
    return static_cast<uint32_t>(
        siphash_4u32(key, tuple.local.v4().value, tuple.remote.v4().value, ports(tuple), domain));
  }
  uint8_t bytes[40];
  tuple.local.v6.write(bytes);
  tuple.remote.v6.write(bytes + 16);
  const uint32_t words[2] = {ports(tuple), domain};
  std::memcpy(bytes + 32, words, sizeof words);
  return static_cast<uint32_t>(siphash24(key, bytes));
}

}  // namespace

uint32_t IsnGenerator::isn(const FourTuple& tuple, Time now) const {
  // RFC 6528's M: a 4 µs clock, wrapping every 4.8 hours, so that successive incarnations of a
  // tuple get increasing ISNs and old duplicates fall outside the new window.
  const auto m = static_cast<uint32_t>(now / std::chrono::microseconds(4));
  return m + tuple_hash(key_, tuple, kIsnDomain);
}

uint32_t IsnGenerator::timestamp_offset(const FourTuple& tuple) const {
  return tuple_hash(key_, tuple, kTimestampDomain);
}

}  // namespace tapstack::tcp
