#include "stack/tcp/tcp.h"

#include <algorithm>

#include "stack/tcp/queue_steering.h"
#include "stack/tcp/seqnum.h"

namespace tapstack::tcp {
namespace {

// What a binding to `address` takes: its own family, or both for :: unless v6-only (Linux's
// IPV6_V6ONLY off, the default).
IpFamilies bound_families(const IpAddress& address, bool v6_only) {
  if (address.is_v4()) return IpFamilies::of(IpFamily::kIpv4);
  if (address.is_unspecified() && !v6_only) return IpFamilies::both();
  return IpFamilies::of(IpFamily::kIpv6);
}

// The smallest shift that lets `buffer` bytes be advertised in 16 bits.
uint8_t window_scale_for(size_t buffer) {
  uint8_t shift = 0;
  while (shift < header::kMaxWindowScale && (buffer >> shift) > 0xffff) ++shift;
  return shift;
}

}  // namespace

Tcp::Tcp(const EngineConfig& config, Stats& stats, TimerWheel& timers, net::IpOutput& output,
         Random& random, KeySource& keys)
    : config_(config),
      stats_(stats),
      timers_(timers),
      output_(output),
      random_(random),
      tunable_(config.tunable),
      isn_(keys.next_key()),
      cookies_({keys.next_key(), keys.next_key()}),
      our_window_scale_(window_scale_for(config.receive_buffer)),
      next_id_(config.queue == 0 ? config.queues : config.queue),
      tuple_hash_{keys.next_u64()},
      connections_(tuple_hash_, cookie_path_),
      half_open_(tuple_hash_, cookie_path_),
      time_wait_(tuple_hash_, cookie_path_),
      flow_label_hash_{keys.next_u64()},
      admission_seed_(keys.next_u64()) {}

Tcp::~Tcp() {
  cookie_path_.detach();  // the program passes everything from now on
  // Timer nodes unlink themselves; clear the tables before the wheel could see them again.
  half_open_.clear();
  time_wait_.clear();
  connections_.clear();
  orphans_.clear();
  endpoints_.clear();
}

void Tcp::emit(Event::Kind kind, EndpointId endpoint, EndpointId listener, TcpState state,
               Duration handshake, std::string_view reason) {
  if (on_event_) on_event_(Event{kind, endpoint, listener, state, handshake, reason});
}

void Tcp::emit_about(Event::Kind kind, const Connection& c, TcpState state, Duration handshake,
                     std::string_view reason) {
  if (!on_event_) return;
  std::optional<ConnectionInfo> figures;
  if (figures_wanted_ && figures_wanted_(c.id)) figures = describe_connection(c);
  on_event_(Event{kind, c.id, c.listener, state, handshake, reason, figures ? &*figures : nullptr});
}

void Tcp::receive(const net::IpPacket& ip, RxChecksum checksum) {
  auto view = header::TcpView::parse(ip.payload);
  if (!view) {
    stats_.drop(DropReason::bad_tcp_header);
    return;
  }
  if (checksum == RxChecksum::kUnverified && !view->checksum_ok(ip.source, ip.destination)) {
    stats_.drop(DropReason::bad_tcp_checksum);
    return;
  }
  stats_.segments_received.add();
  Segment seg;
  seg.tuple = {ip.destination, ip.source, view->destination_port(), view->source_port()};
  seg.seq = view->seq();
  seg.ack = view->ack();
  seg.flags = view->flags();
  seg.window = view->window();
  seg.length = view->sequence_length();
  seg.payload = view->payload();
  if (view->header_length() > header::TcpView::kMinSize) {
    seg.options = header::parse_tcp_options(view->options());
  }

  if (auto c = connections_.find(seg.tuple); c != connections_.end()) {
    connection_receive(*c->second, seg);
  } else if (auto tw = time_wait_.find(seg.tuple); tw != time_wait_.end()) {
    time_wait_receive(tw->second, seg);
  } else if (auto h = half_open_.find(seg.tuple); h != half_open_.end()) {
    half_open_receive(h->second, seg);
  } else if (Listener* l = find_listener(seg.tuple.local, seg.tuple.local_port)) {
    listener_receive(*l, seg);
  } else if (!seg.has(header::tcp_flags::kRst)) {
    send_reset_for(seg);  // nobody listens: RFC 9293 3.10.7.1
  }
}

void Tcp::on_timer(TimerNode& node) {
  if (node.kind == kHalfOpenTimer) {
    half_open_timer(static_cast<HalfOpen&>(node));
  } else if (node.kind == kDelayedAckTimer) {
    delayed_ack_timer(static_cast<DelayedAckTimer&>(node).connection);
  } else if (node.kind == kTimeWaitTimer) {
    FourTuple tuple = static_cast<TimeWait&>(node).tuple;  // the key dies with the record
    time_wait_.erase(tuple);
  } else {
    connection_timer(static_cast<Connection&>(node));
  }
}

Endpoint* Tcp::find_endpoint(EndpointId id) {
  auto it = endpoints_.find(id);
  return it == endpoints_.end() ? nullptr : &it->second;
}

const Endpoint* Tcp::find_endpoint(EndpointId id) const {
  auto it = endpoints_.find(id);
  return it == endpoints_.end() ? nullptr : &it->second;
}

Status Tcp::check_endpoint_room() const {
  if (endpoint_count() >= config_.max_endpoints) {
    return error(ErrorCode::kResourceExhausted, "endpoint table full (" +
                                                    std::to_string(config_.max_endpoints) +
                                                    " endpoints); close some first");
  }
  return Status::ok();
}

EndpointId Tcp::allocate_id() {
  EndpointId id = next_id_;
  next_id_ += config_.queues;
  return id;
}

Result<EndpointId> Tcp::create_endpoint() {
  if (Status room = check_endpoint_room(); !room.is_ok()) return room;
  EndpointId id = allocate_id();
  Endpoint& e = endpoints_[id];
  e.id = id;
  return id;
}

Result<EndpointId> Tcp::create_replica(EndpointId id) {
  if (id == 0 || id % config_.queues == config_.queue || endpoints_.contains(id)) {
    return error(ErrorCode::kInvalidArgument, "endpoint " + std::to_string(id) +
                                                  " cannot be replicated on loop " +
                                                  std::to_string(config_.queue));
  }
  if (Status room = check_endpoint_room(); !room.is_ok()) return room;
  endpoints_[id].id = id;
  return id;
}

Listener* Tcp::find_listener(const IpAddress& local, uint16_t port) const {
  auto slots = listeners_.find(port);
  if (slots == listeners_.end()) return nullptr;
  Listener* l = slots->second[static_cast<size_t>(local.family())];
  return l && l->takes(local) ? l : nullptr;
}

Status Tcp::bind(EndpointId id, const IpAddress& address, uint16_t port, bool v6_only) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (e->state() != TcpState::kInitial) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(id) + " is already bound");
  }
  if (!address.is_unspecified() && !config_.is_local(address)) {
    return error(ErrorCode::kInvalidArgument,
                 address.to_string() + " is not one of this stack's addresses");
  }
  if (!address.is_unspecified() && !output_.is_usable(address)) {
    return error(ErrorCode::kUnavailable,
                 address.to_string() + " is tentative (duplicate address detection) or duplicate");
  }
  if (v6_only && address.is_v4()) {
    return error(ErrorCode::kInvalidArgument,
                 "v6_only needs an IPv6 address or ::, not " + address.to_string());
  }
  const IpFamilies families = bound_families(address, v6_only);
  std::optional<PortLease> lease;
  if (port == 0) {
    // Like Linux, bind to port 0 picks a free ephemeral port.
    for (uint32_t p = config_.ephemeral_port_first; !lease && p <= config_.ephemeral_port_last;
         ++p) {
      lease = ports_.take_exclusive(static_cast<uint16_t>(p), families);
    }
    if (!lease) return error(ErrorCode::kResourceExhausted, "no free ephemeral port");
  } else {
    lease = ports_.take_exclusive(port, families);
    if (!lease) {
      return error(ErrorCode::kAlreadyExists, "port " + std::to_string(port) + " is in use");
    }
  }
  e->port = std::move(*lease);
  e->address = address;
  e->v6_only = v6_only;
  emit(Event::Kind::kStateChanged, id, 0, TcpState::kBound);
  return Status::ok();
}

Status Tcp::unbind(EndpointId id) {
  Endpoint* e = find_endpoint(id);
  if (!e || e->state() != TcpState::kBound) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(id) + " is not bound");
  }
  e->port.reset();
  emit(Event::Kind::kStateChanged, id, 0, TcpState::kInitial);
  return Status::ok();
}

Status Tcp::listen(EndpointId id, uint32_t backlog, std::optional<uint32_t> syn_backlog) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (backlog == 0 || backlog > 65535) {
    return error(ErrorCode::kInvalidArgument, "backlog must be 1..65535");
  }
  if (syn_backlog && (*syn_backlog == 0 || *syn_backlog > 1u << 20)) {
    return error(ErrorCode::kInvalidArgument, "SYN backlog must be 1..1048576");
  }
  if (e->state() == TcpState::kListen) {
    // Like listen() on a listening socket: adjusts the limits.
    e->listener->backlog = backlog;
    e->listener->syn_backlog = syn_backlog.value_or(backlog);
    if (e->listener->admission) e->listener->admission->set_syn_backlog(e->listener->syn_backlog);
    publish_listener(*e->listener);
    return Status::ok();
  }
  if (e->state() != TcpState::kBound) {
    return error(ErrorCode::kFailedPrecondition, "endpoint " + std::to_string(id) +
                                                     " must be bound before listen (state " +
                                                     std::string(to_string(e->state())) + ")");
  }
  e->listener = std::make_unique<Listener>();
  e->listener->id = id;
  e->listener->port = e->port.port();
  e->listener->address = e->address;
  e->listener->families = e->port.families();
  e->listener->backlog = backlog;
  e->listener->syn_backlog = syn_backlog.value_or(backlog);
  auto& slots = listeners_[e->listener->port];
  for (IpFamily f : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    if (e->listener->families.has(f)) slots[static_cast<size_t>(f)] = e->listener.get();
  }
  publish_listener(*e->listener);
  emit(Event::Kind::kStateChanged, id, 0, TcpState::kListen);
  return Status::ok();
}

Result<uint16_t> Tcp::pick_ephemeral_port(FourTuple t) {
  uint32_t range = config_.ephemeral_port_last - config_.ephemeral_port_first + 1u;
  uint32_t start = static_cast<uint32_t>(random_.next() % range);
  for (uint32_t i = 0; i < range; ++i) {
    t.local_port = static_cast<uint16_t>(config_.ephemeral_port_first + (start + i) % range);
    // With one engine loop per TAP queue, only a port whose answers the TAP steers to our
    // queue will do (about one in `queues`).
    if (config_.queues > 1 && steering_queue_of(t) != config_.queue) continue;
    if (!ports_.exclusive(t.local_port) && !tuple_in_use(t)) return t.local_port;
  }
  return error(ErrorCode::kResourceExhausted,
               "no free ephemeral port towards " + t.remote.to_string(t.remote_port));
}

uint32_t Tcp::steering_queue_of(const FourTuple& t) const {
  // The steering program hashes IPv4 TCP only and sends everything else to queue 0.
  if (t.family() != IpFamily::kIpv4) return 0;
  return steering_queue(steering_hash(t, config_.steering_key), config_.queues);
}

Status Tcp::connect(EndpointId id, const IpAddress& address, uint16_t port) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  TcpState state = e->state();
  if (state != TcpState::kInitial && state != TcpState::kBound) {
    return error(ErrorCode::kFailedPrecondition, "endpoint " + std::to_string(id) + " is " +
                                                     std::string(to_string(state)) +
                                                     "; connect needs a new or bound endpoint");
  }
  if (port == 0) return error(ErrorCode::kInvalidArgument, "remote port must be 1..65535");
  if (state == TcpState::kBound && !e->port.families().has(address.family())) {
    return error(ErrorCode::kInvalidArgument, "endpoint " + std::to_string(id) + " is bound to " +
                                                  e->address.to_string() +
                                                  (e->v6_only ? " (v6 only)" : "") +
                                                  ": cannot connect to " + address.to_string());
  }
  auto source = output_.source_for(address);
  if (!source.is_ok()) return source.status();
  if (!e->address.is_unspecified() && !output_.is_usable(e->address)) {
    return error(ErrorCode::kUnavailable, e->address.to_string() + " was found duplicate");
  }
  FourTuple tuple{e->address.is_unspecified() ? *source : e->address, address, 0, port};
  PortLease lease;
  if (state == TcpState::kInitial) {
    auto picked = pick_ephemeral_port(tuple);
    if (!picked.is_ok()) return picked.status();
    lease = std::move(*ports_.take_shared(*picked));  // picked: not held exclusively
  }
  tuple.local_port = lease ? lease.port() : e->port.port();
  if (tuple_in_use(tuple)) {
    return error(ErrorCode::kAlreadyExists,
                 "a connection to " + address.to_string(port) + " from port " +
                     std::to_string(tuple.local_port) +
                     (time_wait_.contains(tuple) ? " is in TIME-WAIT" : " exists"));
  }
  auto c = std::make_unique<Connection>(config_.send_buffer, config_.receive_buffer,
                                        config_.initial_rto);
  c->id = id;
  c->port = lease ? std::move(lease) : std::move(e->port);
  c->tuple = tuple;
  c->iss = isn_.isn(tuple, now_);
  c->snd_una = c->iss;
  c->snd_nxt = c->rtx_next = c->write_seq = c->iss + 1;
  c->ts_offset = isn_.timestamp_offset(tuple);
  c->handshake_start = now_;
  // The SYN waits from now: a user timeout counts from its first send (Linux's retrans_stamp).
  c->stalled_since = now_;
  c->user_options = e->options;
  c->state = TcpState::kSynSent;
  connections_.insert(tuple) = c.get();
  e->connection = std::move(c);
  stats_.active_opens.add();
  send_syn(*e->connection, false);
  arm_retransmit(*e->connection);
  emit_about(Event::Kind::kStateChanged, *e->connection, TcpState::kSynSent);
  return Status::ok();
}

Result<EndpointId> Tcp::accept(EndpointId listener_id) {
  Endpoint* e = find_endpoint(listener_id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(listener_id));
  if (!e->listener) {
    return error(ErrorCode::kFailedPrecondition,
                 "endpoint " + std::to_string(listener_id) + " is not listening");
  }
  auto& queue = e->listener->accept_queue;
  if (queue.empty()) return error(ErrorCode::kWouldBlock, "no connection to accept yet");
  EndpointId id = queue.front();
  queue.pop_front();
  publish_listener(*e->listener);
  if (Endpoint* accepted = find_endpoint(id)) accepted->in_accept_queue = false;
  return id;
}

void Tcp::stop_listening(Endpoint& e) {
  Listener& l = *e.listener;
  auto& slots = listeners_[l.port];
  for (Listener*& slot : slots) {
    if (slot == &l) slot = nullptr;
  }
  if (slots == std::array<Listener*, 2>{}) listeners_.erase(l.port);
  if (l.families.has(IpFamily::kIpv4)) cookie_path_.clear_listener(l.port);
  // Half-open connections vanish silently; queued ones are reset, as Linux does. Neither gives
  // its admission count back: the admission goes with the listener, and connections that
  // outlive it find it gone (uncount_connection).
  for (auto it = half_open_.begin(); it != half_open_.end();) {
    it = it->second.listener == &l ? half_open_.erase(it) : std::next(it);
  }
  half_open_table_changed();
  for (EndpointId queued : l.accept_queue) {
    Endpoint* q = find_endpoint(queued);
    if (!q || !q->connection) continue;
    q->in_accept_queue = false;
    Connection& c = orphan(*q);
    if (c.state != TcpState::kClosed)
      send_control(c, header::tcp_flags::kRst | header::tcp_flags::kAck);
    release(c);
  }
  l.accept_queue.clear();
}

Connection& Tcp::orphan(Endpoint& e) {
  std::unique_ptr<Connection>& slot = orphans_[e.id];
  slot = std::move(e.connection);
  endpoints_.erase(e.id);
  return *slot;
}

Status Tcp::close(EndpointId id, bool abort) {
  Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  if (e->listener) stop_listening(*e);
  if (e->in_accept_queue) {
    // Closing a connection nobody accepted yet takes it off its listener's queue.
    Endpoint* l = find_endpoint(e->connection->listener);
    if (l && l->listener) {
      std::erase(l->listener->accept_queue, id);
      publish_listener(*l->listener);
    }
  }
  if (!e->connection) {
    endpoints_.erase(id);  // gives back its port, if it held one
    emit(Event::Kind::kReleased, id, 0, TcpState::kClosed);
    return Status::ok();
  }
  Connection& c = *e->connection;
  // Closing with data unread resets, as Linux's tcp_close does (TCPAbortOnClose): the peer
  // must not take for delivered what nobody read.
  const bool unread = !c.receive_queue.empty();
  c.receive_queue.clear();
  c.reassembly.clear();
  switch (c.state) {
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kClosing:
    case TcpState::kLastAck:
      if (!abort && !unread && orphans_.size() < config_.max_orphans) {
        // The FIN follows the data still queued; after shutdown() it is on its way already.
        if (!c.write_shut) start_close(c);
        break;
      }
      // Beyond max_orphans a close is an abort, as Linux's tcp_close does past
      // tcp_max_orphans ("too many orphaned sockets"): a peer that never answers our FIN
      // cannot make us hold closed connections without bound.
      if (unread) {
        stats_.aborts_on_close.add();
      } else if (!abort) {
        stats_.orphan_overflows.add();
      }
      send_control(c, header::tcp_flags::kRst | header::tcp_flags::kAck);
      c.state = TcpState::kClosed;
      break;
    case TcpState::kSynReceived:
      // A simultaneous open not yet complete: nothing was sent, so reset it.
      send_control(c, header::tcp_flags::kRst | header::tcp_flags::kAck);
      c.state = TcpState::kClosed;
      break;
    default:
      // SYN-SENT is given up silently (as Linux does); a closed connection has nothing to say.
      c.state = TcpState::kClosed;
      break;
  }
  Connection& orphaned = orphan(*e);
  if (orphaned.state == TcpState::kClosed) {
    release(orphaned);
  } else if (orphaned.state == TcpState::kFinWait2) {
    schedule_idle(orphaned);  // FIN-WAIT-2 ends on a timer once nobody holds the connection
  }
  return Status::ok();
}

ConnectionInfo Tcp::describe_connection(const Connection& c) const {
  ConnectionInfo info;
  info.listener = c.listener;
  info.mss = c.options.mss;
  info.send_mss = static_cast<uint16_t>(send_mss(c));
  info.send_window_scale = c.options.send_window_scale;
  info.receive_window_scale = c.options.receive_window_scale;
  info.sack_permitted = c.options.sack_permitted;
  info.timestamps = c.options.timestamps;
  info.from_syn_cookie = c.from_syn_cookie;

  info.bytes_acked = c.bytes_acked;
  info.bytes_in_flight = c.snd_nxt - c.snd_una;
  info.bytes_unsent = seq_lt(c.snd_nxt, c.write_seq) ? c.write_seq - c.snd_nxt : 0;
  info.segments_retransmitted = c.segments_retransmitted;
  info.backoff = c.retransmits;
  info.send_window = c.snd_wnd;

  info.srtt = c.rtt.srtt();
  info.rttvar = c.rtt.rttvar();
  info.rto = current_rto(c);

  if (c.congestion) {
    const CongestionControl& cc = *c.congestion;
    info.congestion_control = to_string(cc.kind());
    info.cwnd = cc.cwnd();
    if (cc.ssthresh() != CongestionControl::kInfiniteSsthresh) info.ssthresh = cc.ssthresh();
    info.in_recovery = cc.in_recovery();
  } else {
    info.congestion_control = to_string(config_.congestion_control);  // what the first data makes
  }

  info.bytes_received = c.bytes_received;
  info.bytes_buffered = static_cast<uint32_t>(c.receive_queue.size());
  info.out_of_order_bytes = c.reassembly.held_bytes();
  info.receive_window = seq_gt(c.rcv_wnd_edge, c.rcv_nxt) ? c.rcv_wnd_edge - c.rcv_nxt : 0;
  return info;
}

EndpointInfo Tcp::describe(const Endpoint& e) const {
  EndpointInfo info;
  info.id = e.id;
  info.state = e.state();
  info.local_address = e.connection ? e.connection->tuple.local : e.address;
  info.local_port = e.local_port();
  info.v6_only = e.v6_only;
  info.keepalive = e.keepalive;
  info.options = e.connection ? e.connection->user_options : e.options;
  if (e.listener) {
    const Listener& l = *e.listener;
    ListenerInfo& li = info.listener.emplace();
    li.backlog = l.backlog;
    li.syn_backlog = l.syn_backlog;
    li.syn_received = l.syn_received;
    li.accept_queue = static_cast<uint32_t>(l.accept_queue.size());
    if (l.admission) li.admission = l.admission->policy();
    li.admission_counters = l.admission_counters;
  }
  if (e.connection) {
    const Connection& c = *e.connection;
    info.remote_address = c.tuple.remote;
    info.remote_port = c.tuple.remote_port;
    info.connection = describe_connection(c);
  }
  return info;
}

Result<EndpointInfo> Tcp::query(EndpointId id) const {
  const Endpoint* e = find_endpoint(id);
  if (!e) return error(ErrorCode::kNotFound, "no endpoint " + std::to_string(id));
  return describe(*e);
}

std::vector<EndpointInfo> Tcp::list() const {
  std::vector<EndpointInfo> out;
  out.reserve(endpoints_.size());
  for (const auto& [id, e] : endpoints_) out.push_back(describe(e));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::array<size_t, kTcpStateCount> Tcp::count_by_state() const {
  std::array<size_t, kTcpStateCount> counts{};
  for (const auto& [id, e] : endpoints_) ++counts[static_cast<size_t>(e.state())];
  for (const auto& [id, c] : orphans_) ++counts[static_cast<size_t>(c->state)];
  counts[static_cast<size_t>(TcpState::kTimeWait)] += time_wait_.size();
  return counts;
}

}  // namespace tapstack::tcp
