// The TCP layer: demux, listeners with their SYN-RCVD tables and accept queues, SYN cookies,
// active, passive and simultaneous open, and connections until they are released.
// Sans-I/O: segments and time come in, segments (through IpOutput) and events go out. Either IP
// family: a tuple's addresses say which (four_tuple.h).
#pragma once

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "stack/endpoint_info.h"
#include "stack/engine_config.h"
#include "stack/header/tcp.h"
#include "stack/net/ip_output.h"
#include "stack/random.h"
#include "stack/stats.h"
#include "stack/status.h"
#include "stack/tcp/cookie_path.h"
#include "stack/tcp/isn.h"
#include "stack/tcp/key_source.h"
#include "stack/tcp/port_table.h"
#include "stack/tcp/records.h"
#include "stack/tcp/segment.h"
#include "stack/tcp/syn_cookies.h"
#include "stack/tcp/tuple_table.h"
#include "stack/timer_wheel.h"

namespace tapstack::tcp {

// Data a segment carries: `length` bytes from `offset` past the head of `from`, to be cut by
// the link into segments of `segment_size` bytes when it is longer (TSO; 0: never).
struct SegmentPayload {
  const ByteRing* from = nullptr;
  size_t offset = 0;
  size_t length = 0;
  size_t segment_size = 0;
};

class Tcp {
 public:
  Tcp(const EngineConfig& config, Stats& stats, TimerWheel& timers, net::IpOutput& output,
      Random& random, KeySource& keys);
  ~Tcp();

  using EventHandler = std::function<void(const Event&)>;
  // Whether the events about a connection should carry its figures (Event::connection). Asked
  // only on the events that may carry them, a few per connection's life; unset: never.
  using FiguresWanted = std::function<bool(EndpointId)>;
  void set_event_handler(EventHandler handler, FiguresWanted figures_wanted = {}) {
    on_event_ = std::move(handler);
    figures_wanted_ = std::move(figures_wanted);
  }

  const TunableConfig& tunable() const { return tunable_; }
  void set_tunable(const TunableConfig& tunable);
  SynCookies& cookies() { return cookies_; }

  // Every entry point takes the current time first.
  void set_now(Time now) { now_ = now; }
  void receive(const net::IpPacket& packet, RxChecksum checksum);
  void on_timer(TimerNode& node);

  // Commands (see Engine for their contracts).
  Result<EndpointId> create_endpoint();
  // The same endpoint as another loop's `id` (a listener group spans every loop, so that each
  // accepts the connections its queue carries): `id` belongs to another loop's ids and is not
  // in use here.
  Result<EndpointId> create_replica(EndpointId id);
  // Undoes bind() on a bound endpoint: a group that could not bind in every loop.
  Status unbind(EndpointId id);
  Status bind(EndpointId id, const IpAddress& address, uint16_t port, bool v6_only);
  Status listen(EndpointId id, uint32_t backlog, std::optional<uint32_t> syn_backlog);
  Status connect(EndpointId id, const IpAddress& address, uint16_t port);
  Result<EndpointId> accept(EndpointId listener);
  Status close(EndpointId id, bool abort);
  Result<EndpointInfo> query(EndpointId id) const;
  std::vector<EndpointInfo> list() const;
  // tcp_receive.cc / tcp_send.cc: the data path (see Engine for the contracts).
  Result<size_t> read(EndpointId id, std::span<uint8_t> out);
  Result<size_t> write(EndpointId id, std::span<const uint8_t> data);
  Result<size_t> send_room(EndpointId id);
  Status shutdown(EndpointId id);
  // Nothing turns keepalive off; on a listener, sets what its future connections start with.
  Status set_keepalive(EndpointId id, std::optional<Keepalive> keepalive);
  // tcp_socket_options.cc: no-delay and the user timeout; on a listener (or an endpoint not
  // connected yet), what its future connections start with.
  Status set_options(EndpointId id, const OptionsChange& change);
  // tcp_admission.cc: a listener's admission policy (see Engine::set_admission).
  Status set_admission(EndpointId id, std::optional<AdmissionPolicy> policy);

  // Endpoints the user holds. Closed connections still finishing (orphans) are bounded by
  // max_orphans of their own, TIME-WAIT records by max_time_wait: neither ever refuses a new one.
  size_t endpoint_count() const { return endpoints_.size(); }
  size_t orphan_count() const { return orphans_.size(); }
  size_t time_wait_count() const { return time_wait_.size(); }
  size_t half_open_count() const { return half_open_.size(); }
  // Endpoints by state (index: TcpState), closed connections still finishing included.
  std::array<size_t, kTcpStateCount> count_by_state() const;

  // tcp_cookie_mode.cc: shares cookie answering with the kernel cookie path (cookie_path.h).
  void attach_cookie_path(const CookiePathMemory& memory);
  // After the cookie secret rotated.
  void publish_cookie_secrets() { cookie_path_.publish_secrets(cookies_); }

  // tcp_icmp.cc: an ICMP error (or a failed ARP resolution) quoting a segment we sent on
  // `tuple` with sequence number `quoted_seq`; `reason` is static text for the Connect call.
  // False if no connection has that tuple.
  bool icmp_error(const FourTuple& tuple, uint32_t quoted_seq, std::string_view reason);
  // tcp_icmp.cc: an ICMPv6 Packet Too Big (or IPv4 fragmentation needed) quoting a segment we
  // sent on `tuple`: the path carries packets of at most `mtu` bytes, and segments are cut to
  // fit from now on (RFC 8201, RFC 1191). False if no connection has that tuple.
  bool packet_too_big(const FourTuple& tuple, uint32_t quoted_seq, uint32_t mtu);

 private:
  // tcp_icmp.cc: the connection an ICMP error quotes if its sequence number is in flight
  // (`known`: whether the tuple is a connection's at all).
  Connection* icmp_quoted(const FourTuple& tuple, uint32_t quoted_seq, bool& known);

  // tcp.cc: demux and commands
  Endpoint* find_endpoint(EndpointId id);
  const Endpoint* find_endpoint(EndpointId id) const;
  EndpointInfo describe(const Endpoint& endpoint) const;
  ConnectionInfo describe_connection(const Connection& c) const;
  bool tuple_in_use(const FourTuple& tuple) const {
    return connections_.contains(tuple) || time_wait_.contains(tuple);
  }
  // A local port for `tuple` (its local_port is what varies).
  Result<uint16_t> pick_ephemeral_port(FourTuple tuple);
  // The listener that takes segments to `local`:`port`, if any.
  Listener* find_listener(const IpAddress& local, uint16_t port) const;
  // The TAP queue whose loop receives the tuple's segments (queue_steering.h).
  uint32_t steering_queue_of(const FourTuple& t) const;
  Status check_endpoint_room() const;
  // The next id of this loop's class: ids are congruent to config_.queue modulo
  // config_.queues, so that the control plane finds an endpoint's loop from its id alone.
  EndpointId allocate_id();
  void emit(Event::Kind kind, EndpointId endpoint, EndpointId listener, TcpState state,
            Duration handshake = {}, std::string_view reason = {});
  // An event about connection `c`, with its figures when figures_wanted_ asks for them: the
  // snapshot (describe_connection, a few dozen loads and stores) is built only then.
  void emit_about(Event::Kind kind, const Connection& c, TcpState state, Duration handshake = {},
                  std::string_view reason = {});
  void stop_listening(Endpoint& endpoint);
  // Takes the connection away from its endpoint id: only the engine holds it from now on.
  Connection& orphan(Endpoint& endpoint);

  static constexpr Duration kMaxRto = seconds(120);  // Linux TCP_RTO_MAX

  // tcp_output.cc: building and sending segments
  void send_segment(const FourTuple& tuple, uint32_t seq, uint32_t ack, uint8_t flags,
                    uint16_t window, std::span<const uint8_t> options,
                    const SegmentPayload& payload = {});
  void send_reset_for(const Segment& seg);  // RFC 9293 reset generation, no state
  // A segment without data whose only option is the timestamp, when `timestamps` were
  // negotiated (RFC 7323 §3.2 wants them on every non-RST segment): TSval from `ts_offset`,
  // TSecr `ts_echo`.
  void send_bare(const FourTuple& tuple, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
                 bool timestamps, uint32_t ts_offset, uint32_t ts_echo);
  void send_synack(const HalfOpen& half_open);
  void send_half_open_ack(HalfOpen& half_open);  // at ISS + 1, for an out-of-window segment
  void send_syn(const Connection& c, bool with_ack);
  // Every segment of a synchronized connection carries the ACK and the window, so these all
  // note what they acknowledged and cancel the delayed ACK.
  void send_ack(Connection& c);
  // `length` bytes of the send queue from `seq`, with the FIN after them if `fin`. While
  // transmit() gathers (segmentation offload), data segments that follow one another are held
  // and leave together as one large segment.
  void send_data(Connection& c, uint32_t seq, size_t length, bool fin);
  // Sends `length` bytes from `seq` as one segment, which the link cuts into segments of
  // `segment_size` (0: it is one already).
  void send_data_segment(Connection& c, uint32_t seq, size_t length, bool fin, size_t segment_size);
  // Sends the data gathered so far, if any.
  void flush_burst();
  // The most one gathered segment carries: the largest IPv4 packet's worth of whole segments.
  size_t max_burst(const Connection& c) const;
  void acknowledged_by_us(Connection& c);
  // True if an ACK for an unacceptable segment may go out now (and records that it does): one
  // per challenge_ack_interval per connection or record, Linux's tcp_oow_rate_limited.
  bool oow_ack_allowed(std::optional<Time>& last_sent);
  void send_control(Connection& c, uint8_t flags);  // ACK or RST|ACK at snd_nxt
  uint32_t ts_value(uint32_t offset) const;
  header::TcpOptions syn_options_for(IpFamily family, const Negotiated& peer_offer,
                                     uint32_t ts_offset, uint32_t ts_echo) const;
  // The MSS we offer: the MTU less the IP and TCP headers of the family (RFC 9293 §3.7.1).
  uint16_t our_mss(IpFamily family) const {
    return static_cast<uint16_t>(config_.mtu - (family == IpFamily::kIpv4 ? 40 : 60));
  }
  // What a SYN or SYN-ACK offers: never scaled (RFC 7323 §2.2), so at most 65535.
  uint16_t syn_window() const {
    return static_cast<uint16_t>(std::min<size_t>(config_.receive_buffer, 0xffff));
  }

  // tcp_listen.cc: passive open
  void listener_receive(Listener& listener, const Segment& seg, std::optional<uint32_t> iss = {});
  void half_open_receive(HalfOpen& half_open, const Segment& seg);
  // `iss`: the ISN a TIME-WAIT tuple's reuse must start above (Linux's tw_isn), if any.
  void answer_syn(Listener& listener, const Segment& seg, std::optional<uint32_t> iss = {});
  void send_cookie_synack(Listener& listener, const Segment& seg);
  void create_half_open(Listener& listener, const Segment& seg, uint32_t iss);
  // Checks a bare ACK as a cookie; true if it was one (and the connection was made, or dropped
  // for a full accept queue). A valid cookie supersedes a half-open record for the same tuple.
  bool cookie_ack(Listener& listener, const Segment& seg, HalfOpen* superseded);
  bool accept_queue_full(const Listener& listener) const;
  bool cookies_checkable(const Listener& listener) const;
  // Until when ACKs to this listener are checked as cookies outside cookie mode (nullopt:
  // always, with syncookies `always`).
  std::optional<Time> cookies_checkable_until(const Listener& listener) const;

  // The listener answers SYNs with cookies, not half-open records.
  bool syn_table_full(const Listener& listener) const;
  bool half_open_table_full() const;

  // tcp_admission.cc: the listener's admission policy applied
  // Whether the listener's policy (if any) admits the SYN; a refused one is counted and
  // answered as the policy says (RST or nothing).
  bool admit_syn(Listener& listener, const Segment& seg);
  // The same for a valid cookie ACK, about to make a connection (`superseded`: the half-open
  // record of its tuple it replaces, if any).
  bool admit_cookie_ack(Listener& listener, const Segment& seg, const HalfOpen* superseded);
  void refuse(const Admission::Refused& refused, const Segment& seg);
  // The listener's half-open records and connections counted into its (new) admission.
  void count_into_admission(Listener& listener);
  // A passive connection made from `listener`, or one whose end gives its count back.
  void count_connection(Listener& listener, Connection& c);
  void uncount_connection(const Connection& c);

  // tcp_cookie_mode.cc: which listeners answer every SYN with a cookie
  bool in_cookie_mode(const Listener& listener) const;
  // Tells the kernel cookie path this listener's mode and whether its accept queue is full;
  // after every change of either.
  void publish_listener(Listener& listener);
  void publish_listeners();
  // After a half-open record of `listener` was made or erased.
  void half_open_changed(Listener& listener);
  // After the table of all half-open records changed size; true if every listener was
  // published again.
  bool half_open_table_changed();
  // Whether the SYN-ACK, first sent at the handshake's start, went again; unknown for a cookie
  // connection, whose SYN-ACK's time was not kept and whose TSval is not the clock's.
  enum class SynAckTiming : uint8_t { kUnknown, kSentOnce, kSentAgain };
  // Creates the established connection and queues it; null if the endpoint table is full.
  Connection* complete_passive(Listener& listener, const Segment& seg, const Negotiated& options,
                               uint32_t iss, uint32_t irs, uint32_t ts_offset, Time handshake_start,
                               SynAckTiming synack_timing);
  void erase_half_open(HalfOpen& half_open);
  void half_open_timer(HalfOpen& half_open);
  Negotiated negotiate(IpFamily family, const header::TcpOptions& peer) const;

  // tcp_connection.cc: active and simultaneous open, synchronized states
  void connection_receive(Connection& c, const Segment& seg);
  void syn_sent_receive(Connection& c, const Segment& seg);
  void syn_received_receive(Connection& c, const Segment& seg);
  void synchronized_receive(Connection& c, const Segment& seg);
  void challenge_ack(Connection& c);
  // An ACK for a segment we could not accept, rate-limited (see oow_ack_allowed), except for
  // data without SYN: its sender may be retransmitting for a lost ACK (Linux makes the same
  // exception).
  void ack_unacceptable(Connection& c, const Segment& seg);
  void establish(Connection& c);
  void set_state(Connection& c, TcpState state);
  void connection_timer(Connection& c);
  void arm_retransmit(Connection& c);
  // The handshake's round trip as the first RTT sample, `seg` answering our SYN or SYN-ACK sent
  // at `sent` and `retransmitted` or not since.
  void sample_handshake_rtt(Connection& c, const Segment& seg, Time sent, bool retransmitted);
  // RTO of a handshake after `retransmits` tries: doubling from initial_rto, capped at Linux's
  // TCP_RTO_MAX (120 s) whatever the retry tunables say, so that no setting overflows the shift.
  Duration backoff(int retransmits) const;
  // Moves `c` to CLOSED and forgets it if nobody holds its id.
  void release(Connection& c);
  // Takes `c` out of the demux table and, if nobody holds its id, destroys it.
  void forget(Connection& c);
  // RFC 7323 §5.3: a segment whose TSval is older than ts_recent is an old duplicate.
  bool paws_reject(const Connection& c, const Segment& seg) const;

  // tcp_send.cc: the send side
  // The connection behind a data call, or the status that says why there is none to use.
  Result<Connection*> data_connection(EndpointId id);
  // data_connection(), and one that may send now (write()'s errors otherwise).
  Result<Connection*> writable_connection(EndpointId id);
  // Sends what the windows allow: retransmissions due first, then new data, then the FIN.
  // `force`: the persist timer's override of Nagle and sender SWS avoidance for one segment.
  void transmit(Connection& c, bool force = false);
  // transmit()'s work, segment by segment (transmit gathers them with segmentation offload).
  void send_due(Connection& c, bool force);
  // The next new segment (or the FIN) if the window up to `window_end`, Nagle and sender SWS
  // avoidance let it go (`force`: the persist timer's override); false if nothing went.
  bool send_new(Connection& c, uint32_t window_end, bool force);
  // One segment again from `seq`: at most one MSS, never past `end` (the FIN is the sequence
  // number after the data). Returns where it ended.
  uint32_t retransmit(Connection& c, uint32_t seq, uint32_t end);
  void process_ack(Connection& c, const Segment& seg);  // an acceptable segment's ACK field
  void acknowledge(Connection& c, const Segment& seg);  // an ACK of new data
  // RFC 7323 §4.1: the round trip to the TSval that `seg` echoes, if timestamps are on.
  std::optional<Duration> echoed_rtt(const Connection& c, const Segment& seg) const;

  // tcp_recovery.cc: fast retransmit and recovery (RFC 5681, 6582; RFC 6675 with SACK)
  static constexpr uint8_t kDuplicateAckThreshold = 3;  // DupThresh
  SackScoreboard& scoreboard(Connection& c);  // made with the first SACK block or RACK loss
  // The peer's SACK blocks into the scoreboard (made with the first); true if they SACKed
  // data for the first time.
  bool record_sack(Connection& c, const Segment& seg);
  void duplicate_ack(Connection& c);
  void enter_recovery(Connection& c);
  void sack_transmit(Connection& c);

  // tcp_rack.cc: RACK-TLP loss detection (RFC 8985), with SACK
  // RFC 8985's worst-case delayed ACK (WCDelAckT), added to the probe timeout when one segment
  // is in flight, which the peer may hold back for its delayed-ACK timer.
  static constexpr Duration kDelayedAckAllowance = milliseconds(200);
  // What went out, into RACK's record (with SACK only; made with the flight's first segment).
  void record_sent(Connection& c, uint32_t begin, uint32_t end, bool retransmission);
  // An ACK's deliveries into RACK and RACK's loss detection; returns the reordering wait.
  std::optional<Duration> rack_on_ack(Connection& c, const Segment& seg);
  // RACK_detect_loss: marks what is lost in the scoreboard, starting recovery if it was not on;
  // returns how long until the next segment would be lost, if one may be.
  std::optional<Duration> rack_detect_loss(Connection& c);
  Duration reorder_window(const Connection& c) const;  // RACK.reo_wnd
  // After data was sent or delivered, with data in flight: the reordering timer if RACK waits
  // (`reorder_wait`), else the probe if TLP may send one, else the RTO.
  void arm_loss_timer(Connection& c, std::optional<Duration> reorder_wait);
  bool probe_allowed(const Connection& c) const;
  Duration probe_timeout(const Connection& c) const;  // PTO
  // The connection's timer for `what`, at `deadline` but never after the RTO it stands in for.
  void arm_flight_timer(Connection& c, FlightTimer what, Time deadline);
  Time rto_due(const Connection& c) const;  // when the RTO is due, whatever the timer guards
  void reorder_timeout(Connection& c);
  void loss_probe(Connection& c);
  // With data in flight: the RTO, the probe or the reordering timer, as Rack::timer says.
  void flight_timer(Connection& c);
  CongestionControl& congestion(Connection& c);  // made with the first data sent
  Duration current_rto(const Connection& c) const;
  void start_rto(Connection& c);  // the flight waits afresh: the user timeout's clock too
  void arm_rto(Connection& c);
  void retransmission_timeout(Connection& c);
  void persist_timer(Connection& c);
  // The data (or FIN) in flight, or the window held shut, went unanswered too long: the
  // connection ends TIMED_OUT, without a RST (Linux's tcp_write_err).
  void write_timeout(Connection& c);

  // tcp_socket_options.cc: the user timeout's clock (Linux's retrans_stamp and probes_tstamp)
  // True once the user timeout, if set, has run out since the clock started.
  bool user_timeout_expired(const Connection& c) const;
  // `deadline` for the RTO or persist timer, brought forward to the user timeout's end so the
  // connection ends on time, not at the next backed-off expiry (Linux's
  // tcp_clamp_rto_to_user_timeout and tcp_clamp_probe0_to_user_timeout).
  Time within_user_timeout(const Connection& c, Time deadline) const;
  // With nothing in flight: arms the timer for what it guards then (persist, keepalive, an
  // orphan's FIN-WAIT-2) or cancels it.
  void schedule_idle(Connection& c);
  void start_close(Connection& c);  // FIN-WAIT-1 or LAST-ACK; the FIN follows the data
  static bool fin_sent(const Connection& c);
  static bool fin_acknowledged(const Connection& c);
  static bool has_unsent(const Connection& c);  // data or the FIN not sent yet
  size_t send_mss(const Connection& c) const;
  uint32_t send_window(const Connection& c) const;

  // tcp_receive.cc: the receive side
  void process_data_and_fin(Connection& c, const Segment& seg);
  void delayed_ack_timer(Connection& c);
  // The window we may offer now (receiver SWS avoidance), in bytes.
  uint32_t receive_window(const Connection& c) const;
  // The window field of a segment about to go out; records the right edge it offers.
  uint16_t advertise_window(Connection& c);

  // tcp_time_wait.cc: TIME-WAIT records
  // Hands the orphaned `c` over to a TimeWait record (or, with the table full, just releases
  // it). `c` is destroyed: callers send what they must first and touch it no more.
  void enter_time_wait(Connection& c);
  void time_wait_receive(TimeWait& tw, const Segment& seg);

  // tcp_keepalive.cc: keepalive in ESTABLISHED and CLOSE-WAIT
  // Arms (or, with keepalive off, cancels) the timer of an established connection.
  void arm_keepalive(Connection& c);
  void keepalive_timer(Connection& c);
  void send_keepalive_probe(Connection& c);
  void send_time_wait_ack(TimeWait& tw);

  // Data segments gathered by transmit() for one large segment (segmentation offload): the
  // connection, where they start, how many bytes, whether a FIN ends them. Sent before
  // transmit() returns and before any other segment, so nothing overtakes them.
  struct Burst {
    Connection* connection = nullptr;
    uint32_t seq = 0;
    size_t length = 0;
    bool fin = false;
  };
  std::optional<Burst> burst_;
  bool gathering_ = false;  // transmit() is running with segmentation offload
  const EngineConfig& config_;
  Stats& stats_;
  TimerWheel& timers_;
  net::IpOutput& output_;
  Random& random_;
  TunableConfig tunable_;
  IsnGenerator isn_;
  SynCookies cookies_;
  EventHandler on_event_;
  FiguresWanted figures_wanted_;
  Time now_{};
  uint8_t our_window_scale_;

  EndpointId next_id_;  // of this loop's class (allocate_id)
  PortTable ports_;     // before everything that holds a lease, so it outlives them
  std::unordered_map<EndpointId, Endpoint> endpoints_;
  // Connections the user closed that still finish their FIN exchange or TIME-WAIT.
  std::unordered_map<EndpointId, std::unique_ptr<Connection>> orphans_;
  FourTupleHash tuple_hash_;
  CookiePath cookie_path_;  // before the tables that count into it
  TupleTable<Connection*> connections_;
  TupleTable<HalfOpen> half_open_;
  TupleTable<TimeWait> time_wait_;
  // By port, then by the family of the segment's destination: a dual-stack listener (bound to
  // :: without v6_only) is in both slots, 0.0.0.0:p and [::]:p v6-only are each in one.
  std::unordered_map<uint16_t, std::array<Listener*, 2>> listeners_;
  FourTupleHash flow_label_hash_;  // keyed apart from the demux tables' hash
  uint64_t admission_seed_;        // keys admission's tables of source addresses
  uint64_t admission_epochs_ = 0;  // Admission instances made: the last one's epoch
  bool half_open_table_full_published_ = false;
};

}  // namespace tapstack::tcp
