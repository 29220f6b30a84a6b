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
#include <string>
#include <string_view>

#include "stack/capture/capture_ring.h"
#include "stack/header/ip_address.h"
#include "stack/tcp/four_tuple.h"

namespace tapstack::capture {

// "198.18.0.0/15", "2001:db8::/32", or an address alone (all of its bits). Bits past the length
// must be 0, as a route table would have them.
struct AddressPrefix {
  IpAddress address;
  uint8_t length = 0;  // in the address's own family: 0..32 or 0..128

  static std::optional<AddressPrefix> parse(std::string_view text);
  static AddressPrefix host(const IpAddress& address) {
    return {address, static_cast<uint8_t>(address.is_v4() ? 32 : 128)};
  }
  bool contains(const IpAddress& a) const;
};

struct FilterSpec {
  std::optional<uint16_t> local_port{};
  std::optional<IpAddress> local_address{};  // none: any of ours
  std::optional<IpFamily> family{};          // a listener on 0.0.0.0 or [::] v6-only: its own
  std::optional<AddressPrefix> peer{};
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
