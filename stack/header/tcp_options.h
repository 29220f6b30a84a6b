// TCP options that connection establishment negotiates: MSS (RFC 9293), window scale and
// timestamps (RFC 7323), SACK-permitted (RFC 2018).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace tapstack::header {

inline constexpr uint8_t kMaxWindowScale = 14;  // RFC 7323 §2.3

struct TcpTimestamp {
  uint32_t value = 0;  // TSval
  uint32_t echo = 0;   // TSecr
  bool operator==(const TcpTimestamp&) const = default;
};

struct TcpOptions {
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;  // already clamped to kMaxWindowScale
  bool sack_permitted = false;
  std::optional<TcpTimestamp> timestamp;
  bool operator==(const TcpOptions&) const = default;
};

// Parses the option bytes of a segment the way Linux's tcp_parse_options does: an option
// whose length byte is missing, below 2 or past the end stops parsing (what came before is
// kept); a known option with the wrong length is skipped; unknown options are skipped.
TcpOptions parse_tcp_options(std::span<const uint8_t> options);

// Upper bound of what write_syn_options writes.
inline constexpr size_t kMaxSynOptionsLength = 20;
inline constexpr size_t kTimestampOptionLength = 12;

// Writes the options of a SYN or SYN-ACK in Linux's layout (MSS, SACK-permitted with
// timestamps, window scale), padded with NOPs to a multiple of four. Returns the length.
size_t write_syn_options(uint8_t* out, const TcpOptions& options);

// Writes NOP, NOP, timestamp: the 12 bytes every segment carries once timestamps are on.
size_t write_timestamp_option(uint8_t* out, TcpTimestamp ts);

}  // namespace tapstack::header
