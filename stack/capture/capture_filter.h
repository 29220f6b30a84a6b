// Which frames a capture takes: TCP by local port and address, peer prefix and peer port (a
// 4-tuple is all four), every segment or only the handshakes' (SYN and RST segments, and the
// ACK that completes each three-way handshake). Without a TCP criterion it takes every frame,
// ARP, ICMP and NDP included; with one, only TCP segments that match. A filter belongs to one
// engine loop (its handshake table is that loop's), which calls match() for every frame while
// the capture runs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/capture/capture_ring.h"
#include "stack/header/ip_address.h"
#include "stack/tcp/admission_policy.h"
#include "stack/tcp/four_tuple.h"

namespace tapstack::capture {

struct FilterSpec {
  std::optional<uint16_t> local_port{};
  std::optional<IpAddress> local_address{};  // none: any of ours
  std::optional<IpFamily> family{};          // a listener on 0.0.0.0 or [::] v6-only: its own
  std::optional<tcp::IpPrefix> peer{};
  std::optional<uint16_t> peer_port{};
  bool handshake_only = false;

  // Whether only TCP segments can match.
  bool tcp_only() const {
    return local_port || local_address || family || peer || peer_port || handshake_only;
  }
};

class CaptureFilter {
 public:
  // Handshakes whose completing ACK is awaited, per filter: a direct-mapped table, so a
  // collision forgets the older handshake (its final ACK is then not captured).
  static constexpr size_t kHandshakeSlots = 256;

  explicit CaptureFilter(const FilterSpec& spec, uint64_t hash_seed = 0)
      : spec_(spec), hash_{hash_seed} {}

  // Whether the capture takes `frame`, going `direction`. Not const: in handshake mode a
  // SYN-ACK is remembered until the ACK that answers it.
  bool match(Direction direction, std::span<const uint8_t> frame);

  const FilterSpec& spec() const { return spec_; }

 private:
  struct PendingHandshake {
    tcp::FourTuple tuple;
    uint32_t ack = 0;  // the SYN-ACK's sequence number + 1
    Direction syn_ack_direction = Direction::kReceived;
    bool used = false;
  };
  bool match_tuple(const tcp::FourTuple& tuple) const;
  bool is_handshake(Direction direction, const tcp::FourTuple& tuple, uint8_t flags, uint32_t seq,
                    uint32_t ack);

  FilterSpec spec_;
  tcp::FourTupleHash hash_;
  std::array<PendingHandshake, kHandshakeSlots> pending_{};
};

}  // namespace tapstack::capture
