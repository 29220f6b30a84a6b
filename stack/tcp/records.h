// The engine's per-endpoint state. A half-open connection is a small HalfOpen record (Linux's
// request sock), not a Connection: it holds only what the SYN-ACK and the final ACK need. A
// connection in TIME-WAIT is a small TimeWait record (Linux's timewait sock), not an endpoint.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "stack/clock.h"
#include "stack/endpoint_info.h"
#include "stack/tcp/four_tuple.h"
#include "stack/tcp/port_table.h"
#include "stack/timer_wheel.h"

namespace tapstack::tcp {

// Timer kinds (TimerNode::kind) owned by the TCP layer.
inline constexpr uint8_t kHalfOpenTimer = 10;
inline constexpr uint8_t kConnectionTimer = 11;
inline constexpr uint8_t kTimeWaitTimer = 12;

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
  uint8_t retransmits = 0;
  Time syn_time{};
  std::optional<Time> last_oow_ack;  // rate limit of ACKs to out-of-window segments
};

struct Connection : TimerNode {
  EndpointId id = 0;
  EndpointId listener = 0;  // the listener it came from; 0 for connect
  FourTuple tuple;
  TcpState state = TcpState::kClosed;
  PortLease port;  // an active open's local port; passive connections share their listener's

  uint32_t iss = 0;
  uint32_t snd_una = 0;
  uint32_t snd_nxt = 0;
  uint32_t snd_wnd = 0;
  uint32_t irs = 0;
  uint32_t rcv_nxt = 0;
  Negotiated options;
  uint32_t ts_recent = 0;
  Time ts_recent_stamp{};  // when ts_recent was taken: PAWS forgets it after 24 days
  uint32_t ts_offset = 0;
  bool from_syn_cookie = false;

  uint8_t retransmits = 0;  // of whatever the timer now guards (SYN, SYN-ACK or FIN)
  Time handshake_start{};
  // The last ACK sent for a segment we could not accept (challenge ACKs included): one per
  // challenge_ack_interval, as Linux's tcp_oow_rate_limited, so a spoofer cannot make us echo.
  std::optional<Time> last_oow_ack;
  Time last_received{};  // when the peer last sent anything: keepalive's idle time starts here

  std::vector<uint8_t> receive_buffer;  // in-order data not yet read, bounded by the config
  uint64_t bytes_received = 0;
};

struct Listener {
  EndpointId id = 0;
  uint16_t port = 0;
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
  PortLease port;  // bound or listening; moves into the connection on connect
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Connection> connection;
  bool in_accept_queue = false;
  std::optional<Keepalive> keepalive;  // for a listener: what its connections start with

  TcpState state() const {
    if (connection) return connection->state;
    if (listener) return TcpState::kListen;
    return port ? TcpState::kBound : TcpState::kInitial;
  }
  uint16_t local_port() const { return connection ? connection->tuple.local_port : port.port(); }
};

}  // namespace tapstack::tcp
