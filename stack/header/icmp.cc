#include "stack/header/icmp.h"

#include <cstring>

#include "stack/header/checksum.h"
#include "stack/header/ipv4.h"

namespace tapstack::header {

bool IcmpView::checksum_ok() const {
  return checksum_finish(checksum_add(0, bytes_)) == 0;
}

std::optional<QuotedTcp> parse_quoted_tcp(std::span<const uint8_t> body) {
  if (body.size() < 20) return std::nullopt;
  const uint8_t* p = body.data();
  size_t header_length = size_t{p[0] & 0x0fu} * 4;
  if ((p[0] >> 4) != 4 || header_length < 20 || body.size() < header_length + 8 ||
      p[9] != kProtocolTcp) {
    return std::nullopt;
  }
  const uint8_t* tcp = p + header_length;
  return QuotedTcp{Ipv4Address::from(p + 12), Ipv4Address::from(p + 16), load16(tcp),
                   load16(tcp + 2), load32(tcp + 4)};
}

void write_icmp(uint8_t* out, uint8_t type, uint8_t code, uint32_t rest_of_header,
                std::span<const uint8_t> body) {
  std::memmove(out + IcmpView::kHeaderSize, body.data(), body.size());
  out[0] = type;
  out[1] = code;
  store16(out + 2, 0);
  store32(out + 4, rest_of_header);
  size_t size = IcmpView::kHeaderSize + body.size();
  store16(out + 2, checksum_finish(checksum_add(0, {out, size})));
}

}  // namespace tapstack::header
