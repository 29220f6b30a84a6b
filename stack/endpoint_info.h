// What the engine tells its owner about endpoints: states, snapshots and events.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "stack/clock.h"
#include "stack/header/addresses.h"

namespace tapstack {

using EndpointId = uint64_t;

// RFC 9293 states plus the two an endpoint has before it is a connection.
enum class TcpState : uint8_t {
  kInitial,  // created, not bound
  kBound,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
  kClosed,
};
inline constexpr int kTcpStateCount = static_cast<int>(TcpState::kClosed) + 1;

std::string_view to_string(TcpState state);

struct ListenerInfo {
  uint32_t backlog = 0;       // accept-queue limit: the queue holds exactly this many
  uint32_t syn_backlog = 0;   // SYN-RCVD table limit
  uint32_t syn_received = 0;  // half-open connections now
  uint32_t accept_queue = 0;  // established connections waiting for accept
};

// A listener group (one replica per engine loop) holds what its replicas hold; its limits are
// each replica's, as each socket of a SO_REUSEPORT group has the backlog it was given.
inline void add_queues(ListenerInfo& sum, const ListenerInfo& replica) {
  sum.syn_received += replica.syn_received;
  sum.accept_queue += replica.accept_queue;
}

struct ConnectionInfo {
  EndpointId listener = 0;                      // 0 for an active open
  uint16_t mss = 0;                             // what we send with: min(peer's MSS, ours)
  std::optional<uint8_t> send_window_scale;     // the peer's shift
  std::optional<uint8_t> receive_window_scale;  // ours
  bool sack_permitted = false;
  bool timestamps = false;
  bool from_syn_cookie = false;
  uint64_t bytes_received = 0;
  uint32_t bytes_buffered = 0;
};

// TCP keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6), Linux's TCP_KEEPIDLE, TCP_KEEPINTVL and
// TCP_KEEPCNT: after `idle` without a segment from the peer, a probe every `interval`; `count`
// unanswered probes reset the connection.
struct Keepalive {
  Duration idle = seconds(7200);
  Duration interval = seconds(75);
  uint32_t count = 9;
  bool operator==(const Keepalive&) const = default;
};

struct EndpointInfo {
  EndpointId id = 0;
  TcpState state = TcpState::kInitial;
  Ipv4Address local_address;
  uint16_t local_port = 0;
  Ipv4Address remote_address;
  uint16_t remote_port = 0;
  std::optional<ListenerInfo> listener;
  std::optional<ConnectionInfo> connection;
  std::optional<Keepalive> keepalive;  // a listener's is inherited by its connections
};

struct Event {
  enum class Kind : uint8_t {
    kStateChanged,     // endpoint moved to `state`
    kConnectionReady,  // `listener`'s accept queue gained `endpoint`
    kEstablished,      // active or passive open completed; handshake_duration is set
    kRefused,          // connect got RST
    kTimedOut,         // connect ran out of SYN retransmissions
    kUnreachable,      // connect ended by an ICMP error or no ARP reply; `reason` says which
    kReset,            // a synchronized connection was reset by the peer
    kReleased,         // the engine forgot the endpoint; its id is no longer valid
    kReadable,         // STUB (data-api branch; the engine's version replaces it)
    kWritable,         // STUB
  };
  Kind kind = Kind::kStateChanged;
  EndpointId endpoint = 0;
  EndpointId listener = 0;
  TcpState state = TcpState::kInitial;
  // From the first SYN sent or received to ESTABLISHED; zero for SYN-cookie connections,
  // whose SYN left no trace.
  Duration handshake_duration{};
  // For kUnreachable: what ended the attempt, e.g. "port unreachable (ICMP)". Static text.
  std::string_view reason{};
};

std::string_view to_string(Event::Kind kind);

}  // namespace tapstack
