// ICMP for IPv4 (RFC 792): a view over a message and a writer for the ones this stack sends.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/addresses.h"
#include "stack/header/bytes.h"
#include "stack/header/ip_address.h"

namespace tapstack::header {

inline constexpr uint8_t kProtocolIcmp = 1;

namespace icmp_type {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestinationUnreachable = 3;
inline constexpr uint8_t kEchoRequest = 8;
inline constexpr uint8_t kTimeExceeded = 11;
inline constexpr uint8_t kParameterProblem = 12;
}  // namespace icmp_type

class IcmpView {
 public:
  static constexpr size_t kHeaderSize = 8;  // type, code, checksum and the 4-byte rest
  static constexpr size_t kChecksumOffset = 2;

  static std::optional<IcmpView> parse(std::span<const uint8_t> message) {
    if (message.size() < kHeaderSize) return std::nullopt;
    return IcmpView(message);
  }

  uint8_t type() const { return bytes_[0]; }
  uint8_t code() const { return bytes_[1]; }
  // The checksum covers the whole message.
  bool checksum_ok() const;
  // Echo: identifier and sequence number; errors: unused or type-specific.
  uint32_t rest_of_header() const { return load32(bytes_.data() + 4); }
  // Echo: the data to return; errors: the offending datagram's IP header and first bytes.
  std::span<const uint8_t> body() const { return bytes_.subspan(kHeaderSize); }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  explicit IcmpView(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::span<const uint8_t> bytes_;
};

// What an ICMP or ICMPv6 error quotes of a TCP segment: the IP header and the first 8 bytes of
// TCP (RFC 792, RFC 4443 §3), enough for the ports and the sequence number.
struct QuotedTcp {
  IpAddress source;
  IpAddress destination;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t seq = 0;
};
// The quoted segment, if the error's body holds an IPv4 header of protocol TCP and 8 bytes
// after it. The quoted total length is not checked: errors carry a truncated datagram.
std::optional<QuotedTcp> parse_quoted_tcp(std::span<const uint8_t> body);

// Writes an ICMP message of kHeaderSize + body.size() bytes at `out`, checksum included.
// `body` may alias `out + kHeaderSize`.
void write_icmp(uint8_t* out, uint8_t type, uint8_t code, uint32_t rest_of_header,
                std::span<const uint8_t> body);

}  // namespace tapstack::header
