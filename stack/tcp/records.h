// The engine's per-endpoint state. A half-open connection is a small HalfOpen record (Linux's
// request sock), not a Connection: it holds only what the SYN-ACK and the final ACK need. A
// connection in TIME-WAIT is a small TimeWait record (Linux's timewait sock), not an endpoint.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "stack/clock.h"
#include "stack/endpoint_info.h"
#include "stack/tcp/admission.h"
#include "stack/tcp/assembler.h"
#include "stack/tcp/byte_ring.h"
#include "stack/tcp/congestion_control.h"
#include "stack/tcp/four_tuple.h"
#include "stack/tcp/port_table.h"
#include "stack/tcp/rack.h"
#include "stack/tcp/reorder_window.h"
#include "stack/tcp/rtt_estimator.h"
#include "stack/tcp/sack_scoreboard.h"
#include "stack/timer_wheel.h"

namespace tapstack::tcp {

// Timer kinds (TimerNode::kind) owned by the TCP layer.
inline constexpr uint8_t kHalfOpenTimer = 10;
inline constexpr uint8_t kConnectionTimer = 11;
inline constexpr uint8_t kTimeWaitTimer = 12;
inline constexpr uint8_t kDelayedAckTimer = 13;

struct Listener;

// Options a handshake agreed on.
struct Negotiated {
  uint16_t mss = 536;                           // peer's MSS, clamped to ours
  std::optional<uint8_t> send_window_scale;     // peer's shift; set iff both sides sent WS
  std::optional<uint8_t> receive_window_scale;  // ours; set iff both sides sent WS
  bool sack_permitted = false;
  bool timestamps = false;
};

struct HalfOpen : TimerNode {
  FourTuple tuple;
  Listener* listener = nullptr;
  uint32_t iss = 0;
  uint32_t irs = 0;
  Negotiated options;
  uint32_t ts_recent = 0;  // the SYN's TSval, echoed in the SYN-ACK
  uint32_t ts_offset = 0;
  uint8_t retransmits = 0;  // by the timer: they back it off and count to synack_retries
  // The SYN-ACK also went again for a retransmitted SYN: with the timer's, what Karn's rule
  // asks (its first send time then times nothing).
  bool synack_resent = false;
  Time syn_time{};
  std::optional<Time> last_oow_ack;  // rate limit of ACKs to out-of-window segments
};

struct Connection;

// A connection's second timer: the delayed ACK runs alongside whatever the first one guards.
struct DelayedAckTimer : TimerNode {
  explicit DelayedAckTimer(Connection& c) : connection(c) { kind = kDelayedAckTimer; }
  Connection& connection;
};

// Why a connection ended other than by the FIN exchange: what read() and write() report from
// then on.
enum class Ending : uint8_t { kNone, kRefused, kUnreachable, kReset, kTimedOut };

// The connection's timer (the TimerNode it is) guards one thing at a time: the SYN; with data
// or the FIN in flight the RTO, TLP's probe or RACK's reordering timer (Rack::timer says which);
// a zero window (persist), keepalive, or an orphan's FIN-WAIT-2.
struct Connection : TimerNode {
  Connection(size_t send_buffer, size_t receive_buffer, Duration initial_rto)
      : send_queue(send_buffer), rtt(initial_rto), receive_queue(receive_buffer) {
    kind = kConnectionTimer;
  }

  EndpointId id = 0;
  EndpointId listener = 0;  // the listener it came from; 0 for connect
  FourTuple tuple;
  TcpState state = TcpState::kClosed;
  Ending ending = Ending::kNone;
  PortLease port;  // an active open's local port; passive connections share their listener's

  uint32_t iss = 0;
  uint32_t snd_una = 0;
  uint32_t snd_nxt = 0;  // the highest sequence number sent (plus one): never moves back
  uint32_t snd_wnd = 0;
  uint32_t snd_wl1 = 0;      // SEG.SEQ of the segment that last updated snd_wnd (RFC 9293)
  uint32_t snd_wl2 = 0;      // and its SEG.ACK
  uint32_t max_snd_wnd = 0;  // the largest window the peer offered (sender SWS avoidance)
  uint32_t irs = 0;
  uint32_t rcv_nxt = 0;
  Negotiated options;
  uint32_t ts_recent = 0;
  Time ts_recent_stamp{};  // when ts_recent was taken: PAWS forgets it after 24 days
  uint32_t ts_offset = 0;
  bool from_syn_cookie = false;
  // The listener's Admission this connection is counted in (Admission::epoch); 0: none. The
  // listener may lose or replace its policy, or close, before the connection ends: the count
  // is given back only to the same instance.
  uint64_t admission_epoch = 0;

  uint8_t retransmits = 0;  // of the SYN, the data or FIN in flight; backs off the timer
  uint8_t probes = 0;       // keepalive or zero-window probes the peer has not answered
  // Since when the timer's guard has gone unanswered, for the user timeout: the data or FIN in
  // flight since it last waited afresh (sent from idle, or an ACK of new data), a shut window
  // since its first probe. Meaningful once the timer fired (a window that opens ends it).
  Time stalled_since{};
  ConnectionOptions user_options;  // its own from the start: an orphan outlives its endpoint
  Time handshake_start{};
  // The last ACK sent for a segment we could not accept (challenge ACKs included): one per
  // challenge_ack_interval, as Linux's tcp_oow_rate_limited, so a spoofer cannot make us echo.
  std::optional<Time> last_oow_ack;
  Time last_received{};  // when the peer last sent anything: keepalive's idle time starts here

  // Send side (tcp_send.cc). The queue holds the bytes from SND.UNA on: in flight, then unsent.
  ByteRing send_queue;
  uint32_t write_seq = 0;     // the sequence number after the last byte written (Linux's write_seq)
  bool write_shut = false;    // shutdown() or close(): a FIN follows the queued data
  bool writer_waits = false;  // a write() was cut short: kWritable is owed once there is room
  uint32_t rtx_next = 0;      // the next sequence number to retransmit; == snd_nxt when none is due
  uint8_t duplicate_acks = 0;
  std::optional<uint32_t> recover;  // NewReno's recovery point while in fast recovery
  RttEstimator rtt;
  // Made with the first data sent (tcp_send.cc), so connections that carry none cost nothing.
  std::unique_ptr<CongestionControl> congestion;
  // RFC 6675's scoreboard, made with the first SACK block the peer sends (or RACK's first
  // loss).
  std::optional<SackScoreboard> scoreboard;
  // RACK-TLP (RFC 8985) with SACK: made with the first segment of a flight, gone once all of it
  // is acknowledged.
  std::optional<Rack> rack;
  ReorderWindowScale reorder_scale;  // RACK's window multiplier, which outlives a flight
  std::optional<std::pair<uint32_t, Time>> timed;  // the segment being timed (no timestamps)
  uint64_t bytes_acked = 0;
  uint64_t segments_retransmitted = 0;

  // Receive side (tcp_receive.cc). The queue holds in-order data not yet read and, past its
  // end, out-of-order data whose ranges `reassembly` records.
  ByteRing receive_queue;
  Assembler reassembly;
  uint32_t rcv_wnd_edge = 0;  // RCV.NXT + RCV.WND as last advertised: never moves left
  uint32_t rcv_acked = 0;     // the ACK number last sent
  // Data segments still acknowledged at once, as Linux's quickack mode starts a connection
  // (TCP_MAX_QUICKACKS): the peer's slow start is not held back by delayed ACKs.
  uint8_t quick_acks = 16;
  DelayedAckTimer delayed_ack{*this};
  uint64_t bytes_received = 0;
};

struct Listener {
  EndpointId id = 0;
  uint16_t port = 0;
  IpAddress address;    // bound: 0.0.0.0, ::, or one of ours
  IpFamilies families;  // of segments it takes (its port lease's)
  // Whether a segment to `local` is for this listener: its family, and its address if bound
  // to one.
  bool takes(const IpAddress& local) const {
    return families.has(local.family()) && (address.is_unspecified() || address == local);
  }
  uint32_t backlog = 0;
  uint32_t syn_backlog = 0;
  uint32_t syn_received = 0;
  std::deque<EndpointId> accept_queue;
  // When this listener last answered with a cookie: in auto mode a bare ACK is checked as a
  // cookie only while cookies it sent may still be valid (Linux's tcp_synq_no_recent_overflow).
  std::optional<Time> last_cookie_sent;
  // The cookie mode last told to the kernel cookie path (tcp_cookie_mode.cc); while it is on,
  // the program answers this listener's SYNs with cookies, so ACKs are checked as cookies.
  bool cookie_mode_published = false;
  // What its admission did, over every policy it had (so before `admission`, which counts
  // into it).
  AdmissionCounters admission_counters;
  // Its admission policy and state (tcp_admission.cc); null: every SYN is admitted, at no cost.
  std::unique_ptr<Admission> admission;
};

// A connection in TIME-WAIT, reduced to what answering its peer needs. It is no endpoint: the
// endpoint is released when its connection enters TIME-WAIT, and these records are bounded by
// max_time_wait of their own (Linux's tcp_max_tw_buckets), so they never crowd out endpoints.
struct TimeWait : TimerNode {
  FourTuple tuple;
  uint32_t snd_nxt = 0;
  uint32_t rcv_nxt = 0;
  uint32_t ts_recent = 0;
  uint32_t ts_offset = 0;
  uint16_t window = 0;  // as last advertised, already scaled
  bool timestamps = false;
  Time ends{};  // a retransmitted FIN restarts the wait, but never past this
  std::optional<Time> last_oow_ack;
  PortLease port;  // an active open keeps its local port until the wait is over
};

// An endpoint has one state, derived from what it holds: a connection's state if it has one,
// else LISTEN with a listener, BOUND with a port, INITIAL with nothing. There is no second
// field that could disagree.
struct Endpoint {
  EndpointId id = 0;
  PortLease port;        // bound or listening; moves into the connection on connect
  IpAddress address;     // bound to: 0.0.0.0, :: or one of ours (:: until bound)
  bool v6_only = false;  // bound to :: for IPv6 peers only (Linux's IPV6_V6ONLY)
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Connection> connection;
  bool in_accept_queue = false;
  std::optional<Keepalive> keepalive;  // for a listener: what its connections start with
  // Without a connection, what the connection it makes (connect) or accepts (a listener's)
  // starts with; a connection holds its own (Connection::user_options), so this one is used
  // only until connect() copies it.
  ConnectionOptions options;

  TcpState state() const {
    if (connection) return connection->state;
    if (listener) return TcpState::kListen;
    return port ? TcpState::kBound : TcpState::kInitial;
  }
  uint16_t local_port() const { return connection ? connection->tuple.local_port : port.port(); }
};

}  // namespace tapstack::tcp
