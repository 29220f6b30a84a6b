// A connection accepted from a Linux-like peer (MSS 1460, SACK, timestamps, window scale 7)
// for the data-path tests: helpers to write, to play the peer's ACKs (echoing our latest TSval,
// so every ACK gives an RTT sample) and to check the data segments we send.
#pragma once

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;  // the peer's ISS: its data starts at 1001
// The peer offers MSS 1460; every segment carries the 12-byte timestamp option (10 + 2 NOPs).
constexpr size_t kMss = 1460 - 12;
constexpr uint16_t kWindowField = 502;  // the peer's window field, scaled by its shift of 7
// The fixture's handshake takes no time on the fake clock: its RTT sample (counted as one 1 ms
// tick) makes the first RTO the 200 ms floor.
constexpr Duration kFirstRto = milliseconds(200);

class EngineData : public EngineTest {
 protected:
  // `handshake_rtt`: how long the peer's final ACK took (the connection's first RTT sample).
  explicit EngineData(Duration handshake_rtt = {}) { open(handshake_rtt); }

  // A fresh engine with `config` and a connection accepted from the peer on it.
  // `handshake_rtt`: how long the peer's final ACK took (the connection's first RTT sample).
  void reopen(const EngineConfig& config, Duration handshake_rtt = {}) {
    restart(config);
    open(handshake_rtt);
  }
  void open(Duration handshake_rtt = {}) {
    attach(peer_);
    listener_ = listen(kPort, 8);
    auto [id, synack] = open_passive(listener_, kPort, peer_, kIrs, handshake_rtt);
    opened(id, synack, now() - handshake_rtt);
  }
  // A fresh engine and a connection whose handshake gave no RTT sample: the SYN-ACK went twice
  // (Karn), and the final ACK, answering the second, carries no timestamp (which Linux
  // accepts). Its first RTO is RFC 6298 §5.7's 3 s.
  void reopen_without_rtt_sample() {
    relisten();
    syn(peer_, kPort, linux_syn(kIrs));
    advance_by(seconds(1));
    SentSegment synack = take_segment();
    SegmentSpec ack = final_ack(synack);
    ack.timestamp.reset();
    send(peer_, kPort, ack);
    opened(accept_one(), synack, now());
  }
  // A fresh engine listening on kPort, with no connection yet: for handshakes a test plays.
  void relisten() {
    restart(EngineConfig{});
    attach(peer_);
    listener_ = listen(kPort, 8);
  }
  // The connection the listener has ready (0, and a failure, when there is none).
  EndpointId accept_one() {
    auto id = engine().accept(listener_);
    EXPECT_TRUE(id.is_ok()) << id.status().message;
    return id.is_ok() ? *id : 0;
  }
  void opened(EndpointId id, const SentSegment& synack, Time synack_sent) {
    id_ = id;
    iss_ = synack.seq;
    synack_sent_ = synack_sent;
    synack_tsval_ = synack.timestamp ? synack.timestamp->value : 0;
    latest_tsval_ = synack_tsval_;
    peer_seq_ = kIrs + 1;
    events_.clear();
    mark();
  }

  // The sequence number of our data byte `offset` (0: the first byte after the SYN).
  uint32_t at(size_t offset) const { return iss_ + 1 + static_cast<uint32_t>(offset); }
  // Our TSval at `t`: a 1 ms clock that read the SYN-ACK's value when it went.
  uint32_t our_tsval(Time t) const { return synack_tsval_ + ms_between(synack_sent_, t); }

  static Bytes data(size_t n, uint8_t first = 0) {
    Bytes b(n);
    std::iota(b.begin(), b.end(), first);
    return b;
  }

  // A segment from the peer at its next sequence number acknowledging our byte `acked`, echoing
  // the latest TSval we sent (so every ACK gives an RTT sample, as a real peer's does).
  SegmentSpec from_peer(size_t acked, uint16_t window = kWindowField, Bytes payload = {},
                        uint8_t flags = 0) {
    return {.flags = static_cast<uint8_t>(kAck | flags),
            .seq = peer_seq_,
            .ack = at(acked),
            .window = window,
            .timestamp = Timestamp{peer_tsval_++, latest_tsval_},
            .payload = std::move(payload)};
  }
  // Sends `spec`; the peer's next sequence number moves past its data and FIN.
  void peer_sends(const SegmentSpec& spec) {
    send(peer_, kPort, spec);
    uint32_t end =
        spec.seq + static_cast<uint32_t>(spec.payload.size()) + ((spec.flags & kFin) ? 1 : 0);
    if (static_cast<int32_t>(end - peer_seq_) > 0) peer_seq_ = end;
  }
  void peer_acks(size_t acked, uint16_t window = kWindowField) {
    peer_sends(from_peer(acked, window));
  }

  // What the engine sent, noting the latest TSval for the peer to echo.
  std::vector<SentSegment> out() {
    auto segments = take_segments();
    for (const auto& s : segments) {
      if (s.timestamp) latest_tsval_ = s.timestamp->value;
    }
    return segments;
  }
  SentSegment one() { return only(out()); }
  // Exactly one segment at `deadline`, none before it.
  SentSegment one_at(Time deadline) {
    advance_silently_to_just_before(deadline);
    advance_to(deadline);
    return one();
  }

  // A segment of ours carrying `length` bytes from data byte `offset`.
  void expect_data(const SentSegment& s, size_t offset, size_t length, uint8_t flags = kAck) {
    expect_segment(s, flags, at(offset), peer_seq_);
    EXPECT_EQ(s.payload_size, length) << ::testing::PrintToString(s);
  }

  size_t write(const Bytes& bytes) {
    auto n = engine().write(id_, bytes);
    EXPECT_TRUE(n.is_ok()) << n.status().message;
    return n.is_ok() ? *n : 0;
  }
  ErrorCode write_error(EndpointId id) {
    Bytes one_byte(1);
    return engine().write(id, one_byte).status().code;
  }
  ErrorCode read_error(EndpointId id) {
    Bytes buffer(16);
    return engine().read(id, buffer).status().code;
  }
  Result<size_t> read(size_t n) {
    Bytes buffer(n);
    return engine().read(id_, buffer);
  }

  // The connection's end by a write timeout (data_retries or the user timeout) at `deadline`:
  // silent (no RST, as Linux's tcp_write_err), TIMED_OUT, and the data calls say
  // DEADLINE_EXCEEDED.
  void expect_timed_out_at(Time deadline) {
    advance_silently_to_just_before(deadline);
    EXPECT_EQ(state_of(id_), TcpState::kEstablished);
    mark();
    advance_to(deadline);
    expect_nothing_sent();
    EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
    EXPECT_EQ(state_of(id_), TcpState::kClosed);
    expect_counters({{"data_timeouts", 1}, {"connections_closed", 1}});
    EXPECT_EQ(read_error(id_), ErrorCode::kDeadlineExceeded);
    EXPECT_EQ(write_error(id_), ErrorCode::kDeadlineExceeded);
  }

  // A write of 100 bytes the peer never acknowledges: it goes again at `resends` and the
  // connection times out at `end`, both in multiples of kFirstRto from now.
  void expect_unanswered_write(const std::vector<int>& resends, int end) {
    const Time written = now();
    write(data(100));
    out();
    std::vector<uint32_t> expected;
    for (int r : resends) expected.push_back(ms_between(written, written + r * kFirstRto));
    std::vector<uint32_t> sent;
    for (const auto& [t, s] : run_timers_until(written + (end - 1) * kFirstRto)) {
      sent.push_back(ms_between(written, t));
    }
    EXPECT_EQ(sent, expected) << "ms after the write";
    expect_timed_out_at(written + end * kFirstRto);
  }

  // Fires every timer until the connection's next event is due later than `limit`, collecting
  // what was sent with the time it went.
  std::vector<std::pair<Time, SentSegment>> run_timers_until(Time limit) {
    std::vector<std::pair<Time, SentSegment>> sent;
    while (auto deadline = engine().next_deadline()) {
      if (*deadline > limit) break;
      advance_to(*deadline);
      for (const auto& s : out()) sent.emplace_back(*deadline, s);
    }
    return sent;
  }

  Peer peer_;
  EndpointId listener_ = 0;
  EndpointId id_ = 0;
  uint32_t iss_ = 0;
  uint32_t synack_tsval_ = 0;
  Time synack_sent_ = kStart;
  uint32_t latest_tsval_ = 0;
  uint32_t peer_seq_ = kIrs + 1;
  uint32_t peer_tsval_ = 7000;
};

}  // namespace tapstack::engine_test
