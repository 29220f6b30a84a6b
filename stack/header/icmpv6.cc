#include "stack/header/icmpv6.h"

#include <cstring>

#include "stack/header/checksum.h"

namespace tapstack::header {
namespace {

uint64_t message_sum(const Ipv6Address& src, const Ipv6Address& dst,
                     std::span<const uint8_t> message) {
  const auto length = static_cast<uint32_t>(message.size());
  return checksum_add(pseudo_header_sum(src, dst, kProtocolIcmpv6, length), message);
}

}  // namespace

bool Icmpv6View::checksum_ok(const Ipv6Address& src, const Ipv6Address& dst) const {
  return checksum_finish(message_sum(src, dst, bytes_)) == 0;
}

void write_icmpv6(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst, uint8_t type,
                  uint8_t code, uint32_t rest_of_header, std::span<const uint8_t> body) {
  std::memmove(out + Icmpv6View::kHeaderSize, body.data(), body.size());
  out[0] = type;
  out[1] = code;
  store16(out + 2, 0);
  store32(out + 4, rest_of_header);
  const size_t size = Icmpv6View::kHeaderSize + body.size();
  store16(out + 2, checksum_finish(message_sum(src, dst, {out, size})));
}

size_t write_icmpv6_echo_reply(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                               const Icmpv6View& request) {
  write_icmpv6(out, src, dst, icmpv6_type::kEchoReply, 0, request.rest_of_header(), request.body());
  return request.bytes().size();
}

}  // namespace tapstack::header
