// IPv6 header view (RFC 8200 §3), the walk over the extension headers that follow it (§4), and
// the header writer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>

#include "stack/header/bytes.h"
#include "stack/header/ipv6_address.h"

namespace tapstack::header {

// The Next Header values the walk acts on (RFC 8200 §4); anything else ends it.
namespace ipv6_next_header {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kNoNextHeader = 59;
inline constexpr uint8_t kDestinationOptions = 60;
}  // namespace ipv6_next_header

// Why the walk stops short of an upper-layer header: the packet is not delivered.
enum class Ipv6Drop : uint8_t {
  kHopByHopNotFirst,     // Hop-by-Hop Options after another header (RFC 8200 §4.1)
  kMalformed,            // a header or option past its bounds, or over 7 bytes of padding
  kUnrecognizedOption,   // an option whose type says not to skip it when unknown (§4.2)
  kRoutingSegmentsLeft,  // a Routing header with hops to go: no routing type is ours (§4.4)
  kFragment,             // a fragment: fragments are not reassembled, as for IPv4
  kNoNextHeader,         // Next Header 59: nothing follows (§4.7)
  kChainTooLong,         // more headers or header bytes than kMaxExtensionHeaders/-Bytes
};

struct Ipv6Rejection {
  Ipv6Drop reason = Ipv6Drop::kMalformed;
  // Offset from the start of the IPv6 header of what is at fault, as a Parameter Problem's
  // pointer (RFC 4443 §3.4) would give it: the Next Header field that named the header
  // (kHopByHopNotFirst, kNoNextHeader), the option's type (kUnrecognizedOption: its top two bits
  // say whether to answer, RFC 8200 §4.2), the Routing Type (kRoutingSegmentsLeft, §4.4), else
  // the start of the header (the end of the packet for a header that is missing altogether).
  size_t pointer = 0;
  bool operator==(const Ipv6Rejection&) const = default;
};

struct Ipv6UpperLayer {
  uint8_t protocol = 0;
  size_t offset = 0;  // of the upper-layer header, from the start of the IPv6 header
  // Of the Next Header field that names `protocol`: an unknown protocol is answered with a
  // Parameter Problem, code 1, pointing there (RFC 8200 §4).
  size_t next_header_offset = 0;
  std::span<const uint8_t> payload;  // from the upper-layer header to the end of the packet
};

using Ipv6Walk = std::variant<Ipv6UpperLayer, Ipv6Rejection>;

class Ipv6View {
 public:
  static constexpr size_t kHeaderSize = 40;
  // Bounds on the walk. Real chains are a few dozen bytes (RFC 8504 §5.3 lets hosts bound them);
  // the bounds keep the work per packet small whatever its length.
  static constexpr size_t kMaxExtensionHeaders = 8;
  static constexpr size_t kMaxExtensionBytes = 1024;

  // Checks the version and the payload length against the bytes present; the view then covers
  // the header and payload_length bytes (Ethernet padding is cut off). No jumbograms (RFC 2675):
  // a payload length of 0 is an empty payload.
  static std::optional<Ipv6View> parse(std::span<const uint8_t> bytes) {
    auto length = declared_length(bytes);
    if (!length || *length > bytes.size()) return std::nullopt;
    return Ipv6View(bytes.first(*length));
  }
  // The same for a packet an ICMPv6 error quotes (RFC 4443 §3), which is cut short: the payload
  // length may promise more than is there, and the view covers what is.
  static std::optional<Ipv6View> parse_quoted(std::span<const uint8_t> bytes) {
    auto length = declared_length(bytes);
    if (!length) return std::nullopt;
    return Ipv6View(bytes.first(std::min(*length, bytes.size())));
  }

  uint8_t traffic_class() const { return static_cast<uint8_t>(load16(bytes_.data()) >> 4); }
  uint32_t flow_label() const { return load32(bytes_.data()) & 0xfffff; }
  uint16_t payload_length() const { return load16(bytes_.data() + 4); }
  uint8_t next_header() const { return bytes_[6]; }
  uint8_t hop_limit() const { return bytes_[7]; }
  Ipv6Address source() const { return Ipv6Address::from(bytes_.data() + 8); }
  Ipv6Address destination() const { return Ipv6Address::from(bytes_.data() + 24); }
  // The header and its payload: the whole packet.
  std::span<const uint8_t> bytes() const { return bytes_; }
  // Everything after the fixed header, extension headers included.
  std::span<const uint8_t> payload() const { return bytes_.subspan(kHeaderSize); }

  // Walks the extension headers (RFC 8200 §4) to the upper-layer header: Hop-by-Hop Options
  // (first only), Destination Options and Routing are checked and skipped, an atomic fragment
  // (offset 0, no more fragments) is processed as a whole packet (RFC 6946), and everything else
  // (ESP and AH included) is the upper layer. At most kMaxExtensionHeaders steps.
  Ipv6Walk find_upper_layer() const;

 private:
  explicit Ipv6View(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  // The header and payload length, if `bytes` start with an IPv6 header.
  static std::optional<size_t> declared_length(std::span<const uint8_t> bytes) {
    if (bytes.size() < kHeaderSize || (bytes[0] >> 4) != 6) return std::nullopt;
    return kHeaderSize + load16(bytes.data() + 4);
  }
  std::span<const uint8_t> bytes_;
};

// Writes a 40-byte header: traffic class 0, the low 20 bits of `flow_label`.
inline void write_ipv6(uint8_t* out, const Ipv6Address& src, const Ipv6Address& dst,
                       uint8_t next_header, uint16_t payload_length, uint8_t hop_limit,
                       uint32_t flow_label) {
  store32(out, uint32_t{6} << 28 | (flow_label & 0xfffff));
  store16(out + 4, payload_length);
  out[6] = next_header;
  out[7] = hop_limit;
  src.write(out + 8);
  dst.write(out + 24);
}

}  // namespace tapstack::header
