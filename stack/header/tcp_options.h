// TCP options that connection establishment negotiates: MSS (RFC 9293), window scale and
// timestamps (RFC 7323), SACK-permitted (RFC 2018); and those of established segments:
// timestamps and SACK blocks (RFC 2018, D-SACK RFC 2883).
#pragma once

#include <array>
#include <cstddef>
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

// One SACK block: the sequence numbers [start, end) of data held above the cumulative ACK, or
// a duplicate (D-SACK) when it is the first block and lies below the ACK or inside the second.
struct SackBlock {
  uint32_t start = 0;
  uint32_t end = 0;  // the sequence number after the block's last byte
  bool operator==(const SackBlock&) const = default;
};

// A SACK option of n blocks is 2 + 8n bytes; 40 bytes of options leave room for 4 (Linux's
// TCP_NUM_SACKS), or 3 next to the 12 bytes of timestamp.
inline constexpr size_t kMaxSackBlocks = 4;
inline constexpr size_t kMaxSackBlocksWithTimestamp = 3;

struct TcpOptions {
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;  // already clamped to kMaxWindowScale
  bool sack_permitted = false;
  std::optional<TcpTimestamp> timestamp;
  // The SACK option's blocks as sent, unchecked: whether they are plausible is the sender's
  // scoreboard's question. Entries from sack_block_count on are zero.
  std::array<SackBlock, kMaxSackBlocks> sack_blocks{};
  uint8_t sack_block_count = 0;
  bool operator==(const TcpOptions&) const = default;

  std::span<const SackBlock> sack() const { return std::span(sack_blocks).first(sack_block_count); }
};

// Parses the option bytes of a segment the way Linux's tcp_parse_options does: an option
// whose length byte is missing, below 2 or past the end stops parsing (what came before is
// kept); a known option with the wrong length is skipped; unknown options are skipped. A SACK
// option is taken whether or not SACK was negotiated (Linux ignores it then; so does the
// caller), and, as Linux's tcp_sacktag_write_queue reads it, for at most kMaxSackBlocks blocks.
TcpOptions parse_tcp_options(std::span<const uint8_t> options);

// Upper bound of what write_syn_options writes.
inline constexpr size_t kMaxSynOptionsLength = 20;
inline constexpr size_t kTimestampOptionLength = 12;

// Writes the options of a SYN or SYN-ACK in Linux's layout (MSS, SACK-permitted with
// timestamps, window scale), padded with NOPs to a multiple of four. Returns the length.
size_t write_syn_options(uint8_t* out, const TcpOptions& options);

// Writes NOP, NOP, timestamp: the 12 bytes every segment carries once timestamps are on.
size_t write_timestamp_option(uint8_t* out, TcpTimestamp ts);

// Upper bound of what write_ack_options writes: the whole 40 bytes TCP's data offset allows.
inline constexpr size_t kMaxAckOptionsLength = 40;

// How many SACK blocks fit next to the options an established segment carries.
constexpr size_t max_sack_blocks(bool timestamps) {
  return timestamps ? kMaxSackBlocksWithTimestamp : kMaxSackBlocks;
}

// Writes the options of an established connection's segment in Linux's layout
// (tcp_options_write): NOP, NOP, timestamp if there is one, then NOP, NOP, SACK with the first
// max_sack_blocks(timestamp) blocks (none: no SACK option). Every option starts on a 4-byte
// boundary. Returns the length, at most kMaxAckOptionsLength.
size_t write_ack_options(uint8_t* out, std::optional<TcpTimestamp> timestamp,
                         std::span<const SackBlock> sack);

}  // namespace tapstack::header
