#include "stack/tcp/queue_steering.h"

namespace tapstack::tcp {

uint32_t steering_hash(const FourTuple& t, const SipKey& key) {
  const uint64_t local = uint64_t{t.local.v4().value} << 16 | t.local_port;
  const uint64_t remote = uint64_t{t.remote.v4().value} << 16 | t.remote_port;
  const uint64_t first = local < remote ? local : remote;
  const uint64_t second = local < remote ? remote : local;
  const auto first_address = static_cast<uint32_t>(first >> 16);
  const auto second_address = static_cast<uint32_t>(second >> 16);
  const auto ports = static_cast<uint32_t>((first & 0xffff) << 16 | (second & 0xffff));
  return static_cast<uint32_t>(siphash_4u32(key, first_address, second_address, ports, 0));
}

uint32_t steering_queue(uint32_t hash, uint32_t queues) {
  return static_cast<uint16_t>(hash) % queues;
}

}  // namespace tapstack::tcp
