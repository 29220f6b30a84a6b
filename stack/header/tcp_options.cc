#include "stack/header/tcp_options.h"

#include <algorithm>

#include "stack/header/bytes.h"

namespace tapstack::header {
namespace {

enum : uint8_t {
  kEnd = 0,
  kNop = 1,
  kMss = 2,
  kWindowScale = 3,
  kSackPermitted = 4,
  kSack = 5,
  kTimestamp = 8,
};

constexpr size_t kSackBlockLength = 8;

}  // namespace

TcpOptions parse_tcp_options(std::span<const uint8_t> options) {
  TcpOptions out;
  size_t i = 0;
  while (i < options.size()) {
    uint8_t kind = options[i];
    if (kind == kEnd) break;
    if (kind == kNop) {
      ++i;
      continue;
    }
    if (i + 1 >= options.size()) break;
    size_t length = options[i + 1];
    if (length < 2 || length > options.size() - i) break;
    const uint8_t* value = options.data() + i + 2;
    switch (kind) {
      case kMss:
        // Like Linux, an MSS of zero counts as absent: kept, it would leave nothing to send.
        if (length == 4 && load16(value) != 0) out.mss = load16(value);
        break;
      case kWindowScale:
        if (length == 3) out.window_scale = std::min(value[0], kMaxWindowScale);
        break;
      case kSackPermitted:
        if (length == 2) out.sack_permitted = true;
        break;
      case kTimestamp:
        if (length == 10) out.timestamp = TcpTimestamp{load32(value), load32(value + 4)};
        break;
      case kSack:
        // Linux's check: at least one block and a whole number of them.
        if (length >= 2 + kSackBlockLength && (length - 2) % kSackBlockLength == 0) {
          const size_t count = std::min((length - 2) / kSackBlockLength, kMaxSackBlocks);
          out.sack_blocks = {};  // a repeated option replaces the earlier one entirely
          for (size_t b = 0; b < count; ++b) {
            const uint8_t* edges = value + b * kSackBlockLength;
            out.sack_blocks[b] = SackBlock{load32(edges), load32(edges + 4)};
          }
          out.sack_block_count = static_cast<uint8_t>(count);
        }
        break;
      default:
        break;
    }
    i += length;
  }
  return out;
}

size_t write_timestamp_option(uint8_t* out, TcpTimestamp ts) {
  out[0] = kNop;
  out[1] = kNop;
  out[2] = kTimestamp;
  out[3] = 10;
  store32(out + 4, ts.value);
  store32(out + 8, ts.echo);
  return kTimestampOptionLength;
}

size_t write_ack_options(uint8_t* out, std::optional<TcpTimestamp> timestamp,
                         std::span<const SackBlock> sack) {
  size_t n = 0;
  if (timestamp) n += write_timestamp_option(out, *timestamp);
  const size_t count = std::min(sack.size(), max_sack_blocks(timestamp.has_value()));
  if (count == 0) return n;
  out[n] = kNop;
  out[n + 1] = kNop;
  out[n + 2] = kSack;
  out[n + 3] = static_cast<uint8_t>(2 + count * kSackBlockLength);
  n += 4;
  for (const SackBlock& block : sack.first(count)) {
    store32(out + n, block.start);
    store32(out + n + 4, block.end);
    n += kSackBlockLength;
  }
  return n;
}

size_t write_syn_options(uint8_t* out, const TcpOptions& options) {
  size_t n = 0;
  if (options.mss) {
    out[n] = kMss;
    out[n + 1] = 4;
    store16(out + n + 2, *options.mss);
    n += 4;
  }
  if (options.timestamp) {
    if (options.sack_permitted) {
      // SACK-permitted takes the place of the two NOPs before the timestamp.
      out[n] = kSackPermitted;
      out[n + 1] = 2;
      out[n + 2] = kTimestamp;
      out[n + 3] = 10;
      store32(out + n + 4, options.timestamp->value);
      store32(out + n + 8, options.timestamp->echo);
      n += 12;
    } else {
      n += write_timestamp_option(out + n, *options.timestamp);
    }
  } else if (options.sack_permitted) {
    out[n] = kNop;
    out[n + 1] = kNop;
    out[n + 2] = kSackPermitted;
    out[n + 3] = 2;
    n += 4;
  }
  if (options.window_scale) {
    out[n] = kNop;
    out[n + 1] = kWindowScale;
    out[n + 2] = 3;
    out[n + 3] = *options.window_scale;
    n += 4;
  }
  return n;
}

}  // namespace tapstack::header
