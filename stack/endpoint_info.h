// What the engine tells its owner about endpoints: states, snapshots and events.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "stack/clock.h"
#include "stack/header/ip_address.h"
#include "stack/tcp/admission_policy.h"

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
  std::optional<tcp::AdmissionPolicy> admission;  // unset: every SYN is admitted
  // Over the listener's life, whatever policies it had (sources: tracked now).
  tcp::AdmissionCounters admission_counters;
};

// A listener group (one replica per engine loop) holds what its replicas hold; its limits are
// each replica's, as each socket of a SO_REUSEPORT group has the backlog it was given (and its
// admission policy, each replica's table counting the sources its loop sees).
inline void add_queues(ListenerInfo& sum, const ListenerInfo& replica) {
  sum.syn_received += replica.syn_received;
  sum.accept_queue += replica.accept_queue;
  tcp::AdmissionCounters& a = sum.admission_counters;
  const tcp::AdmissionCounters& b = replica.admission_counters;
  a.admitted += b.admitted;
  for (size_t i = 0; i < a.refused.size(); ++i) a.refused[i] += b.refused[i];
  a.sources += b.sources;
  a.sources_evicted += b.sources_evicted;
}

// A connection's snapshot, what `ss -ti` shows of a socket. Byte counts are of data: a SYN or
// FIN in flight counts one in bytes_in_flight (it takes a sequence number) and nowhere else.
struct ConnectionInfo {
  EndpointId listener = 0;  // 0 for an active open

  // What the handshake negotiated.
  uint16_t mss = 0;       // the peer's MSS clamped to ours
  uint16_t send_mss = 0;  // data in a full segment: mss less the timestamp option (ss's mss)
  std::optional<uint8_t> send_window_scale;     // the peer's shift
  std::optional<uint8_t> receive_window_scale;  // ours
  bool sack_permitted = false;
  bool timestamps = false;
  bool from_syn_cookie = false;

  // Send side.
  uint64_t bytes_acked = 0;             // data sent and acknowledged (Linux's tcpi_bytes_acked)
  uint32_t bytes_in_flight = 0;         // SND.NXT - SND.UNA: sent, not yet acknowledged
  uint32_t bytes_unsent = 0;            // written, not yet sent
  uint64_t segments_retransmitted = 0;  // data or FIN segments sent again, all causes
  uint8_t backoff = 0;       // timer expiries in a row for what is in flight now (0: none)
  uint32_t send_window = 0;  // the peer's offered window in bytes (SND.WND, scaled)

  // Round-trip time (RFC 6298): srtt and rttvar are zero until the first sample; rto is the
  // timeout the next expiry would take, backoff included.
  Duration srtt{};
  Duration rttvar{};
  Duration rto{};

  // Congestion control. The algorithm is named from the start; its state exists only once data
  // was sent: cwnd is 0 before, and ssthresh is unset until the first loss set it (it starts
  // infinite, as Linux's, which ss shows by leaving it out).
  std::string_view congestion_control;  // "cubic" or "newreno"; static text
  uint32_t cwnd = 0;                    // in bytes
  std::optional<uint32_t> ssthresh;     // in bytes
  bool in_recovery = false;             // fast recovery after a loss

  // Receive side.
  uint64_t bytes_received = 0;      // in-order data received (read or not)
  uint32_t bytes_buffered = 0;      // received in order and not yet read
  uint32_t out_of_order_bytes = 0;  // held beyond a hole (reassembly queue)
  uint32_t receive_window = 0;      // RCV.WND as last advertised to the peer, in bytes
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

// What the user sets per connection (SetOptions), Linux's TCP_NODELAY and TCP_USER_TIMEOUT.
struct ConnectionOptions {
  bool no_delay = false;  // Nagle off: a small segment goes even with data in flight
  // How long data or a FIN may stay unacknowledged (retransmissions going on), or a window
  // stay shut on data (zero-window probes going on), before the connection is given up
  // (TIMED_OUT). When set it replaces the retry counts (data_retries, fin_retries) and
  // keepalive's probe count, as in Linux. Zero: off.
  Duration user_timeout{};
  bool operator==(const ConnectionOptions&) const = default;
};
// Linux's bound on TCP_USER_TIMEOUT: INT_MAX milliseconds (about 24.8 days).
inline constexpr Duration kMaxUserTimeout = milliseconds(0x7fffffff);

// A change to ConnectionOptions: what is unset keeps its value.
struct OptionsChange {
  std::optional<bool> no_delay;
  std::optional<Duration> user_timeout;
};

struct EndpointInfo {
  EndpointId id = 0;
  TcpState state = TcpState::kInitial;
  // A connection's tuple; otherwise what the endpoint is bound to (:: before bind).
  IpAddress local_address;
  uint16_t local_port = 0;
  IpAddress remote_address;  // :: without a connection
  uint16_t remote_port = 0;
  bool v6_only = false;
  std::optional<ListenerInfo> listener;
  std::optional<ConnectionInfo> connection;
  std::optional<Keepalive> keepalive;  // a listener's is inherited by its connections
  // A connection's own; any other endpoint's are what its connections will start with.
  ConnectionOptions options;
};

struct Event {
  enum class Kind : uint8_t {
    kStateChanged,     // endpoint moved to `state`
    kConnectionReady,  // `listener`'s accept queue gained `endpoint`
    kEstablished,      // active or passive open completed; handshake_duration is set
    kRefused,          // connect got RST
    kTimedOut,         // a handshake, data (retries, user timeout) or keepalive timed out
    kUnreachable,      // connect ended by an ICMP error or no ARP reply; `reason` says which
    kReset,            // a synchronized connection was reset by the peer
    kReleased,         // the engine forgot the endpoint; its id is no longer valid
    kReadable,         // data or the end of the stream became readable where nothing was
    kWritable,         // a short write's send buffer is half free again
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
  // The connection's figures as the event leaves it, on the events that change a
  // connection's state or end it (kStateChanged, kEstablished, kRefused, kTimedOut,
  // kUnreachable, kReset, and kReleased of a closed connection), when the handler's
  // figures_wanted said so; null otherwise. Valid only during the handler call.
  const ConnectionInfo* connection = nullptr;
};

std::string_view to_string(Event::Kind kind);

}  // namespace tapstack
