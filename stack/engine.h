// The engine: Ethernet, ARP, IPv4, NDP, IPv6 and TCP for one link, as a deterministic function of
// (frame in, now) -> (frames out, events). It never blocks, reads no clock and does no I/O;
// EngineLoop (or a test) feeds it. Not thread-safe: one owner calls everything.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "stack/capture/captures.h"
#include "stack/endpoint_info.h"
#include "stack/engine_config.h"
#include "stack/frame_sink.h"
#include "stack/net/arp.h"
#include "stack/net/icmp.h"
#include "stack/net/icmp_rate_limit.h"
#include "stack/net/icmpv6.h"
#include "stack/net/ip_output.h"
#include "stack/net/ndp.h"
#include "stack/random.h"
#include "stack/stats.h"
#include "stack/status.h"
#include "stack/tcp/tcp.h"
#include "stack/timer_wheel.h"

namespace tapstack {

class Engine final : private net::IpOutput, private FrameSink {
 public:
  // `keys` gives the ISN, SYN-cookie and hash secrets: tcp::KeySource::system() in production.
  Engine(const EngineConfig& config, FrameSink& sink, tcp::KeySource keys, Time now);
  ~Engine() override;

  // Input: one Ethernet frame as read from the link.
  void receive_frame(std::span<const uint8_t> frame, Time now,
                     RxChecksum checksum = RxChecksum::kUnverified);
  // A copy of an ARP frame another loop of the same stack received (net::Arp::learn_from_copy).
  void receive_arp_copy(std::span<const uint8_t> frame, Time now);
  // Called, after receive_frame() took it, with every ARP frame that names a sender the table
  // may learn: with several queues, the loop that receives ARP passes those on to the others
  // (martian and unspecified senders, which no loop learns, go no further).
  void set_arp_observer(std::function<void(std::span<const uint8_t>)> observer) {
    arp_observer_ = std::move(observer);
  }
  // Fires every timer due at `now` (retransmissions, TIME-WAIT, ARP, NDP, DAD); the first call
  // also starts duplicate address detection for our IPv6 addresses.
  void advance(Time now);
  // When advance() next has work, if ever.
  std::optional<Time> next_deadline() const { return timers_.next_deadline(); }
  Time now() const { return now_; }

  void set_event_handler(tcp::Tcp::EventHandler handler,
                         tcp::Tcp::FiguresWanted figures_wanted = {}) {
    tcp_.set_event_handler(std::move(handler), std::move(figures_wanted));
  }
  const Stats& stats() const { return stats_; }
  // Bytes of frames waiting for ARP resolution, all next hops together.
  size_t arp_pending_bytes() const { return arp_.pending_bytes(); }
  // The same for NDP.
  size_t ndp_pending_bytes() const { return ndp_.pending_bytes(); }
  // Our IPv6 addresses and their duplicate address detection state: the link-local one first,
  // then EngineConfig::ipv6_addresses.
  std::vector<net::Ipv6AddressInfo> ipv6_addresses() const { return ndp_.addresses(now_); }
  // Frames the link refused after taking them (asynchronous sends report late).
  void note_link_write_errors(uint64_t n) {
    if (n) stats_.link_write_errors.add(n);
  }
  const EngineConfig& config() const { return config_; }
  const TunableConfig& tunable() const { return tcp_.tunable(); }
  void update_tunable(const TunableConfig& tunable) { tcp_.set_tunable(tunable); }
  // Replaces the SYN-cookie secret; cookies already sent stay valid for their lifetime.
  void rotate_cookie_secret();
  // Shares SYN-cookie answering with the kernel cookie path (tcp/cookie_path.h) through
  // `memory`, which must stay mapped until the engine is destroyed.
  void attach_cookie_path(const tcp::CookiePathMemory& memory) { tcp_.attach_cookie_path(memory); }

  // Packet captures: every frame received and sent passes their filters while any runs.
  capture::Captures& captures() { return captures_; }

  // Commands. They act at the time of the last receive_frame()/advance().
  Result<EndpointId> create_endpoint() { return tcp_.create_endpoint(); }
  Result<EndpointId> create_replica(EndpointId id) { return tcp_.create_replica(id); }
  Status unbind(EndpointId id) { return tcp_.unbind(id); }
  // `address`: 0.0.0.0 (IPv4 peers), :: (both families, or IPv6 only with `v6_only`), or one
  // of this stack's addresses; port 0 picks an ephemeral port. Bindings conflict per family,
  // as Linux's do: 0.0.0.0:p and [::]:p v6-only may coexist.
  Status bind(EndpointId id, const IpAddress& address, uint16_t port, bool v6_only = false) {
    return tcp_.bind(id, address, port, v6_only);
  }
  // The accept queue holds exactly `backlog` connections (Linux holds backlog + 1); the
  // SYN-RCVD table holds `syn_backlog`, by default `backlog`. With `admission`, the listener
  // has that policy (as set_admission) from its first SYN: the kernel cookie path, which is
  // told of a listener as it starts, never answers for it without the policy.
  Status listen(EndpointId id, uint32_t backlog, std::optional<uint32_t> syn_backlog = {},
                std::optional<tcp::AdmissionPolicy> admission = std::nullopt) {
    return tcp_.listen(id, backlog, syn_backlog, std::move(admission));
  }
  // Starts an active open; completion arrives as an event (kEstablished, kRefused, kTimedOut,
  // kUnreachable).
  Status connect(EndpointId id, const IpAddress& address, uint16_t port) {
    return tcp_.connect(id, address, port);
  }
  // The oldest established connection of a listener, or kWouldBlock.
  Result<EndpointId> accept(EndpointId listener) { return tcp_.accept(listener); }
  // Graceful (FIN) or abort (RST). The id is invalid afterwards; the engine finishes the
  // FIN exchange and TIME-WAIT on its own.
  Status close(EndpointId id, bool abort) { return tcp_.close(id, abort); }
  Result<EndpointInfo> query(EndpointId id) const { return tcp_.query(id); }
  std::vector<EndpointInfo> list() const { return tcp_.list(); }
  // The data path of a connection. Errors: kNotFound (unknown id), kFailedPrecondition (not a
  // connection, or its side shut), kUnavailable (refused, unreachable or reset: the message
  // says which), kDeadlineExceeded (the handshake, the data or keepalive timed out).
  // In-order received bytes, at most out.size(); 0 at the end of the stream (the peer's FIN,
  // everything before it read); kWouldBlock while there is nothing yet. Reading reopens the
  // window, and announces it once that matters to the peer.
  Result<size_t> read(EndpointId id, std::span<uint8_t> out) { return tcp_.read(id, out); }
  // Queues bytes to send: how many the send buffer took (kWouldBlock if none, also before the
  // handshake completed). A short write earns one kWritable event once half the buffer is free.
  Result<size_t> write(EndpointId id, std::span<const uint8_t> data) {
    return tcp_.write(id, data);
  }
  // How many bytes write() would take now; kWouldBlock when none, which earns the kWritable
  // event as a short write does; write()'s errors otherwise. A relay reads no more than this,
  // and so holds no bytes between a read and a write.
  Result<size_t> send_room(EndpointId id) { return tcp_.send_room(id); }
  // Shuts the write side: the FIN follows the queued data; reading goes on.
  Status shutdown(EndpointId id) { return tcp_.shutdown(id); }
  // Keepalive for a connection, or, on any other endpoint, for the connections it will make or
  // accept; nullopt turns it off. Idle and interval 1..32767 s, count 1..127 (Linux's limits).
  Status set_keepalive(EndpointId id, std::optional<Keepalive> keepalive) {
    return tcp_.set_keepalive(id, keepalive);
  }
  // No-delay and the user timeout (ConnectionOptions) for a connection, or, on any other
  // endpoint, for the connections it will make or accept; what `change` leaves unset keeps its
  // value. Turning no-delay on sends what Nagle held. kInvalidArgument: nothing to set, or a
  // user timeout outside 0..kMaxUserTimeout.
  Status set_options(EndpointId id, const OptionsChange& change) {
    return tcp_.set_options(id, change);
  }
  // A listener's admission policy (admission_policy.h), in effect from the next SYN; nullopt
  // removes it. A new policy starts a new per-source table, recounting the listener's live
  // half-open records and connections (token buckets start full). kNotFound: no such endpoint;
  // kFailedPrecondition: not a listener; kInvalidArgument: validate()'s complaint.
  Status set_admission(EndpointId listener, std::optional<tcp::AdmissionPolicy> policy) {
    return tcp_.set_admission(listener, std::move(policy));
  }
  size_t endpoint_count() const { return tcp_.endpoint_count(); }
  // TIME-WAIT records: not endpoints, bounded by EngineConfig::max_time_wait.
  size_t time_wait_count() const { return tcp_.time_wait_count(); }
  size_t half_open_count() const { return tcp_.half_open_count(); }
  size_t orphan_count() const { return tcp_.orphan_count(); }
  // Endpoints by state (index: TcpState), closed connections still finishing included.
  std::array<size_t, kTcpStateCount> count_by_state() const { return tcp_.count_by_state(); }

 private:
  void send_ip(const IpAddress& destination, std::span<uint8_t> frame,
               const FrameOffload& offload) override;
  Result<IpAddress> source_for(const IpAddress& destination) const override;
  bool is_usable(const IpAddress& address) const override {
    return address.is_v4() ? address.v4() == config_.address.address
                           : ndp_.is_usable(address.v6, now_);
  }
  // Every frame the engine sends goes through here to sink_, so that captures see it as the
  // link is handed it (a TSO frame whole, a checksum left to the link as it is left).
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload& offload) override {
    if (captures_.any()) [[unlikely]] {
      captures_.copy(capture::Direction::kSent, frame);
    }
    return sink_.send_frame(frame, offload);
  }
  void send_ipv4(Ipv4Address destination, std::span<uint8_t> frame, const FrameOffload& offload);
  void send_ipv6(const Ipv6Address& destination, std::span<uint8_t> frame,
                 const FrameOffload& offload);
  void receive_ipv4(std::span<const uint8_t> packet, RxChecksum checksum);
  void receive_ipv6(std::span<const uint8_t> packet, const MacAddress& sender, RxChecksum checksum);
  // What a rejected IPv6 packet costs: its drop reason, and a Parameter Problem where RFC 8200
  // asks for one.
  void reject_ipv6(const header::Ipv6View& ip, const header::Ipv6Rejection& rejection);
  void set_now(Time now);

  EngineConfig config_;
  FrameSink& sink_;
  capture::Captures captures_;
  tcp::KeySource keys_;
  Random random_;  // non-secret choices (ephemeral ports), seeded by a key of its own
  Stats stats_;
  Time now_;
  TimerWheel timers_;
  net::Arp arp_;
  net::Ndp ndp_;
  tcp::Tcp tcp_;
  net::IcmpRateLimit icmp_rate_limit_;  // one bucket for both families, as Linux's
  net::Icmp icmp_;
  net::Icmpv6 icmpv6_;
  std::function<void(std::span<const uint8_t>)> arp_observer_;
};

}  // namespace tapstack
