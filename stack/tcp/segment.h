// An incoming TCP segment, parsed once: the fields every state's rules look at.
#pragma once

#include <cstdint>
#include <span>

#include "stack/header/tcp.h"
#include "stack/header/tcp_options.h"
#include "stack/tcp/four_tuple.h"

namespace tapstack::tcp {

struct Segment {
  FourTuple tuple;  // local = the segment's destination
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint32_t length = 0;  // sequence space: payload + SYN + FIN
  header::TcpOptions options;
  std::span<const uint8_t> payload;

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
  // SEG.SEQ + SEG.LEN: the ACK that covers all of this segment.
  uint32_t end() const { return seq + length; }
};

}  // namespace tapstack::tcp
