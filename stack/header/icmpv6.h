// ICMPv6 (RFC 4443): a view over a message, its checksum under the IPv6 pseudo-header, and
// writers for the messages this stack sends. Neighbour Discovery's messages are in ndp.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/header/bytes.h"
#include "stack/header/ipv6.h"
#include "stack/header/ipv6_address.h"

namespace tapstack::header {

inline constexpr uint8_t kProtocolIcmpv6 = 58;

namespace icmpv6_type {
inline constexpr uint8_t kDestinationUnreachable = 1;
inline constexpr uint8_t kPacketTooBig = 2;
inline constexpr uint8_t kTimeExceeded = 3;
inline constexpr uint8_t kParameterProblem = 4;
inline constexpr uint8_t kEchoRequest = 128;
inline constexpr uint8_t kEchoReply = 129;
inline constexpr uint8_t kNeighbourSolicitation = 135;   // RFC 4861 §4.3
inline constexpr uint8_t kNeighbourAdvertisement = 136;  // RFC 4861 §4.4
}  // namespace icmpv6_type

class Icmpv6View {
 public:
  // Type, code, checksum and the 4-byte field that every message this stack reads starts with.
  static constexpr size_t kHeaderSize = 8;
  static constexpr size_t kChecksumOffset = 2;

  static std::optional<Icmpv6View> parse(std::span<const uint8_t> message) {
    if (message.size() < kHeaderSize) return std::nullopt;
    return Icmpv6View(message);
  }

  uint8_t type() const { return bytes_[0]; }
  uint8_t code() const { return bytes_[1]; }
  uint16_t checksum() const { return load16(bytes_.data() + 2); }
  // The checksum covers the pseudo-header of the packet's addresses and the whole message
  // (RFC 4443 §2.3).
  bool checksum_ok(const Ipv6Address& src, const Ipv6Address& dst) const;
  // Error messages have types 0 to 127 (RFC 4443 §2.1); no error is sent about one (§2.4 e).
  bool is_error() const { return type() < 128; }
  // Echo: identifier and sequence number; errors: unused, the MTU or the pointer.
  uint32_t rest_of_header() const { return load32(bytes_.data() + 4); }
  // Packet Too Big: the MTU of the next-hop link (RFC 4443 §3.2).
  uint32_t mtu() const { return rest_of_header(); }
  // Echo: the data to return; errors: the invoking packet; ND: target and options.
  std::span<const uint8_t> body() const { return bytes_.subspan(kHeaderSize); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  // An error's invoking packet (RFC 4443 §3): its IPv6 header and as much of the rest as the
  // error had room for; nullopt if the body does not start with an IPv6 header.
  std::optional<Ipv6View> invoking_packet() const { return Ipv6View::parse_quoted(body()); }

 private:
  explicit Icmpv6View(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::span<const uint8_t> bytes_;
};

// Writes an ICMPv6 message of kHeaderSize + body.size() bytes at `out`, with its checksum for a
// packet from `src` to `dst`. `body` may alias `out + kHeaderSize`.
void write_icmpv6(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst, uint8_t type,
                  uint8_t code, uint32_t rest_of_header, std::span<const uint8_t> body);

// Writes the echo reply to `request` (RFC 4443 §4.2: its identifier, sequence number and data)
// for a packet from `src` to `dst`, and returns its size. `out` may be the request's own bytes.
size_t write_icmpv6_echo_reply(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                               const Icmpv6View& request);

}  // namespace tapstack::header
