#include "stack/header/ipv6.h"

namespace tapstack::header {
namespace {

constexpr uint8_t kPad1 = 0;
constexpr uint8_t kPadN = 1;
// No alignment of options (RFC 8200 §4.2) needs more than 7 bytes of padding; a longer run only
// hides data (RFC 4942 §2.1.9.5), and Linux drops it too (ip6_parse_tlv).
constexpr size_t kMaxPadding = 7;

// Checks the options of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2), `header`
// being the whole header at `offset` in the packet. Only padding is known here; any other
// option is skipped when its type's top two bits say so (00), and stops the packet otherwise.
std::optional<Ipv6Rejection> check_options(std::span<const uint8_t> header, size_t offset) {
  size_t padding = 0;
  for (size_t at = 2; at < header.size();) {
    const uint8_t type = header[at];
    size_t length = 1;
    if (type != kPad1) {
      if (header.size() - at < 2 || header.size() - at - 2 < header[at + 1]) {
        return Ipv6Rejection{Ipv6Drop::kMalformed, offset + at};
      }
      length = size_t{2} + header[at + 1];
    }
    if (type == kPad1 || type == kPadN) {
      padding += length;
      if (padding > kMaxPadding) return Ipv6Rejection{Ipv6Drop::kMalformed, offset + at};
    } else if ((type >> 6) != 0) {
      return Ipv6Rejection{Ipv6Drop::kUnrecognizedOption, offset + at};
    } else {
      padding = 0;
    }
    at += length;
  }
  return std::nullopt;
}

// Checks one extension header of kind `kind` at `offset`, `header` being all of it.
std::optional<Ipv6Rejection> check_extension_header(uint8_t kind, std::span<const uint8_t> header,
                                                    size_t offset) {
  switch (kind) {
    case ipv6_next_header::kHopByHop:
    case ipv6_next_header::kDestinationOptions:
      return check_options(header, offset);
    case ipv6_next_header::kRouting:
      // Segments Left 0: the header is ignored, whatever its type (RFC 8200 §4.4).
      if (header[3] != 0) return Ipv6Rejection{Ipv6Drop::kRoutingSegmentsLeft, offset + 2};
      return std::nullopt;
    default:  // the fragment header: an atomic fragment is a whole packet (RFC 6946 §4)
      if ((load16(header.data() + 2) & 0xfff9) != 0) {
        return Ipv6Rejection{Ipv6Drop::kFragment, offset};
      }
      return std::nullopt;
  }
}

}  // namespace

Ipv6Walk Ipv6View::find_upper_layer() const {
  uint8_t next = next_header();
  size_t next_header_offset = 6;
  size_t at = kHeaderSize;
  for (size_t count = 0;; ++count) {
    switch (next) {
      case ipv6_next_header::kHopByHop:
        if (at != kHeaderSize) {
          return Ipv6Rejection{Ipv6Drop::kHopByHopNotFirst, next_header_offset};
        }
        break;
      case ipv6_next_header::kRouting:
      case ipv6_next_header::kFragment:
      case ipv6_next_header::kDestinationOptions:
        break;
      case ipv6_next_header::kNoNextHeader:
        return Ipv6Rejection{Ipv6Drop::kNoNextHeader, next_header_offset};
      default:
        return Ipv6UpperLayer{next, at, next_header_offset, bytes_.subspan(at)};
    }
    if (count == kMaxExtensionHeaders) return Ipv6Rejection{Ipv6Drop::kChainTooLong, at};
    // Every extension header is a multiple of 8 bytes, its length in the second byte, except the
    // fragment header's, which is 8 bytes and has a reserved byte there (RFC 8200 §4.5).
    const size_t left = bytes_.size() - at;
    if (left < 8) return Ipv6Rejection{Ipv6Drop::kMalformed, at};
    const size_t length =
        next == ipv6_next_header::kFragment ? 8 : (size_t{bytes_[at + 1]} + 1) * 8;
    if (left < length) return Ipv6Rejection{Ipv6Drop::kMalformed, at};
    if (at + length - kHeaderSize > kMaxExtensionBytes) {
      return Ipv6Rejection{Ipv6Drop::kChainTooLong, at};
    }
    if (auto rejection = check_extension_header(next, bytes_.subspan(at, length), at)) {
      return *rejection;
    }
    next = bytes_[at];
    next_header_offset = at;
    at += length;
  }
}

}  // namespace tapstack::header
