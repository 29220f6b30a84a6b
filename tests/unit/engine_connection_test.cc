// Rule 10: a connection after the handshake. Receiving data (reassembly: engine_reassembly_test),
// an honest receive window, the FIN exchanges (passive, active, simultaneous) with TIME-WAIT,
// aborts and resets with RFC 5961's challenge ACKs, and TIME-WAIT's answers.
#include <gtest/gtest.h>

#include <numeric>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;  // the peer's ISS: its data starts at 1001

class EngineConnection : public EngineFamilyTest {
 protected:
  EngineConnection() { open(); }

  // Attaches the peer and opens a connection from it through a listener on kPort.
  void open() {
    attach(peer_);
    listener_ = listen(kPort, 8);
    auto [id, synack] = open_passive(listener_, kPort, peer_, kIrs);
    id_ = id;
    iss_ = synack.seq;
  }

  // A segment from the peer at `seq` acknowledging `ack` (default: our SYN, nothing more),
  // with timestamps as negotiated.
  SegmentSpec from_peer(uint8_t flags, uint32_t seq, Bytes payload = {},
                        std::optional<uint32_t> ack = {}) {
    return {.flags = flags,
            .seq = seq,
            .ack = ack.value_or(iss_ + 1),
            .window = 502,
            .timestamp = Timestamp{peer_tsval_++, 0},
            .payload = std::move(payload)};
  }
  void peer_sends(const SegmentSpec& spec) { send(peer_, kPort, spec); }

  // A second client (port 40001, ISN 5000) whose final ACK also carries `flags` and `payload`;
  // returns the SYN-ACK it was answering.
  SentSegment handshake_with_final_ack(uint8_t flags, Bytes payload = {}) {
    Peer other = peer_;
    other.port = 40001;
    SentSegment synack = syn(other, kPort, linux_syn(5000));
    SegmentSpec ack = final_ack(synack);
    ack.flags |= flags;
    ack.payload = std::move(payload);
    send(other, kPort, ack);
    return synack;
  }

  static Bytes data(size_t n, uint8_t first = 0) {
    Bytes b(n);
    std::iota(b.begin(), b.end(), first);
    return b;
  }

  // Our FIN, then the peer's ACK of it: FIN-WAIT-2.
  void close_and_get_fin_acked() {
    ASSERT_TRUE(engine().close(id_, false).is_ok());
    expect_segment(take_segment(), kFin | kAck, iss_ + 1, kIrs + 1);
    peer_sends(from_peer(kAck, kIrs + 1, {}, iss_ + 2));
    expect_nothing_sent();
  }
  // From ESTABLISHED through an active close to TIME-WAIT.
  void enter_time_wait() {
    close_and_get_fin_acked();
    peer_sends(from_peer(kFin | kAck, kIrs + 1, {}, iss_ + 2));
    expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  }

  Peer peer_;
  EndpointId listener_ = 0;
  EndpointId id_ = 0;
  uint32_t iss_ = 0;
  uint32_t peer_tsval_ = 7000;
};

// ---- Data ----

TEST_P(EngineConnection, InOrderDataIsAcknowledgedAndKept) {
  mark();
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(100)));
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, iss_ + 1, kIrs + 101);
  EXPECT_EQ(ack.window, (128 * 1024 - 100) >> 2);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 100u);
  peer_sends(from_peer(kAck | kPsh, kIrs + 101, data(40, 100)));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 141);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 140u);
  EXPECT_EQ(connection_info(id_).bytes_received, 140u);
  EXPECT_EQ(read_all(id_), data(140));
  EXPECT_EQ(connection_info(id_).bytes_buffered, 0u);
  expect_counters({{"data_bytes_received", 140}});
}

TEST_P(EngineConnection, AcksEchoTheLatestTimestamp) {
  SegmentSpec first = from_peer(kAck | kPsh, kIrs + 1, data(10));
  peer_sends(first);
  SentSegment ack = take_segment();
  ASSERT_TRUE(ack.timestamp);
  EXPECT_EQ(ack.timestamp->echo, first.timestamp->value);
  SegmentSpec second = from_peer(kAck | kPsh, kIrs + 11, data(10));
  peer_sends(second);
  ack = take_segment();
  ASSERT_TRUE(ack.timestamp);
  EXPECT_EQ(ack.timestamp->echo, second.timestamp->value);
}

TEST_P(EngineConnection, RetransmittedDataIsTrimmedToWhatIsNew) {
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(100)));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 101);
  // Overlapping: the first 100 bytes again and 50 new ones.
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(150)));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 151);
  // Entirely old: not acceptable, answered with an ACK.
  mark();
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(50)));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 151);
  expect_counters({{"drop.out_of_window", 1}});
  EXPECT_EQ(read_all(id_), data(150));
}

TEST_P(EngineConnection, DataOnFinalAckIsAcknowledgedAndKept) {
  SentSegment synack = handshake_with_final_ack(kPsh, data(50));
  expect_segment(take_segment(), kAck, synack.seq + 1, 5051);
  auto id = engine().accept(listener_);
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(state_of(*id), TcpState::kEstablished);
  EXPECT_EQ(connection_info(*id).bytes_buffered, 50u);
  EXPECT_EQ(read_all(*id), data(50));
}

TEST_P(EngineConnection, FinOnFinalAckQueuesAConnectionInCloseWait) {
  SentSegment synack = handshake_with_final_ack(kFin);
  expect_segment(take_segment(), kAck, synack.seq + 1, 5002);
  auto id = engine().accept(listener_);
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(state_of(*id), TcpState::kCloseWait);
}

TEST_P(EngineConnection, OutOfOrderDataGetsDuplicateAckAndIsKeptUntilTheHoleFills) {
  peer_sends(from_peer(kAck | kPsh, kIrs + 101, data(50, 100)));  // 100 bytes missing before it
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 1);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 0u);
  // The hole filled: the held bytes join, and all 150 are acknowledged at once.
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(100)));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 151);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 150u);
}

TEST_P(EngineConnection, WindowShrinksHonestlyAndDataBeyondTheBufferIsNotAcknowledged) {
  EngineConfig config;
  config.receive_buffer = 4096;
  restart(config);
  open();
  // The right edge of the window stays where the SYN-ACK put it: 1001 + 4096.
  constexpr uint32_t kRightEdge = kIrs + 1 + 4096;
  mark();
  peer_sends(from_peer(kAck | kPsh, kIrs + 1, data(1000)));
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, iss_ + 1, kIrs + 1001);
  EXPECT_EQ(ack.window, 3096);
  EXPECT_EQ(ack.ack + ack.window, kRightEdge);

  peer_sends(from_peer(kAck | kPsh, kIrs + 1001, data(3196)));  // 100 bytes too many
  ack = take_segment();
  expect_segment(ack, kAck, iss_ + 1, kRightEdge);
  EXPECT_EQ(ack.window, 0);
  peer_sends(from_peer(kAck | kPsh, kRightEdge, data(100)));  // into a zero window
  ack = take_segment();
  expect_segment(ack, kAck, iss_ + 1, kRightEdge);
  EXPECT_EQ(ack.window, 0);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 4096u);
  expect_counters({{"drop.receive_buffer_full", 2}, {"data_bytes_received", 4096}});

  // Reading reopens the window, and says so at once.
  EXPECT_EQ(read_all(id_).size(), 4096u);
  ack = take_segment();
  expect_segment(ack, kAck, iss_ + 1, kRightEdge);
  EXPECT_EQ(ack.window, 4096);
}

// ---- Closing ----

TEST_P(EngineConnection, PeerFinMovesToCloseWaitThenCloseGoesThroughLastAckToReleased) {
  peer_sends(from_peer(kFin | kAck, kIrs + 1));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 2);
  EXPECT_EQ(state_of(id_), TcpState::kCloseWait);

  mark();
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  expect_segment(take_segment(), kFin | kAck, iss_ + 1, kIrs + 2);
  EXPECT_EQ(engine().query(id_).status().code, ErrorCode::kNotFound);  // the id is given up
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 0u);

  peer_sends(from_peer(kAck, kIrs + 2, {}, iss_ + 2));
  expect_nothing_sent();
  EXPECT_EQ(state_changes(id_),
            (std::vector{TcpState::kCloseWait, TcpState::kLastAck, TcpState::kClosed}));
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 1u);
  EXPECT_EQ(engine().endpoint_count(), 1u);  // the listener
  expect_counters({{"connections_closed", 1}});
  advance_by(seconds(120));
  expect_nothing_sent();
}

TEST_P(EngineConnection, ActiveCloseGoesThroughFinWait2AndTimeWaitToReleased) {
  close_and_get_fin_acked();
  advance_by(seconds(5));
  mark();
  peer_sends(from_peer(kFin | kAck, kIrs + 1, {}, iss_ + 2));
  expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  Time entered = now();
  EXPECT_EQ(state_changes(id_),
            (std::vector{TcpState::kFinWait1, TcpState::kFinWait2, TcpState::kTimeWait}));
  // The endpoint is released as it enters TIME-WAIT; the tuple waits in a record of its own.
  EXPECT_EQ(event_kinds(id_).back(), Event::Kind::kReleased);
  EXPECT_EQ(engine().endpoint_count(), 1u);  // the listener
  EXPECT_EQ(engine().time_wait_count(), 1u);
  EXPECT_EQ(engine().count_by_state()[static_cast<size_t>(TcpState::kTimeWait)], 1u);
  expect_counters({{"time_wait_entered", 1}, {"connections_closed", 1}});

  advance_silently_to_just_before(entered + seconds(60));  // Linux's TCP_TIMEWAIT_LEN
  EXPECT_EQ(engine().time_wait_count(), 1u);
  advance_to(entered + seconds(60));
  expect_nothing_sent();
  EXPECT_EQ(engine().time_wait_count(), 0u);
}

TEST_P(EngineConnection, SimultaneousCloseGoesThroughClosingToTimeWait) {
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  expect_segment(take_segment(), kFin | kAck, iss_ + 1, kIrs + 1);
  // The peer's FIN crosses ours: it does not acknowledge our FIN yet.
  peer_sends(from_peer(kFin | kAck, kIrs + 1, {}, iss_ + 1));
  expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  EXPECT_EQ(state_changes(id_).back(), TcpState::kClosing);
  peer_sends(from_peer(kAck, kIrs + 2, {}, iss_ + 2));
  expect_nothing_sent();
  EXPECT_EQ(state_changes(id_),
            (std::vector{TcpState::kFinWait1, TcpState::kClosing, TcpState::kTimeWait}));
  EXPECT_EQ(stats().time_wait_entered.get(), 1u);
}

TEST_P(EngineConnection, UnacknowledgedFinIsRetransmitted) {
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  SentSegment fin = take_segment();
  mark();
  // A lone FIN is retransmitted as data is. The handshake's RTT makes the RTO the 200 ms floor;
  // the tail loss probe (two RTTs and a delayed ACK's 200 ms) is capped at it and goes in its
  // place, then the RTO restarts and backs off: 200 (probe), 400, 800, 1600 ms.
  for (int at : {200, 400, 800, 1600}) {
    SCOPED_TRACE("at +" + std::to_string(at) + " ms");
    expect_segment(expect_segment_at(kStart + milliseconds(at)), kFin | kAck, fin.seq, fin.ack);
  }
  expect_counters({{"fin_retransmits", 4},
                   {"data_segments_retransmitted", 4},
                   {"tlp_probes_sent", 1},
                   {"retransmit_timeouts", 3}});
  peer_sends(from_peer(kAck, kIrs + 1, {}, iss_ + 2));
  EXPECT_EQ(state_changes(id_).back(), TcpState::kFinWait2);
  advance_by(seconds(30));
  expect_nothing_sent();
}

TEST_P(EngineConnection, FinWait2TimesOut) {
  close_and_get_fin_acked();
  Time entered = now();
  advance_silently_to_just_before(entered + seconds(60));  // Linux's tcp_fin_timeout
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 0u);
  advance_to(entered + seconds(60));
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 1u);
}

TEST_P(EngineConnection, AbortSendsRst) {
  mark();
  ASSERT_TRUE(engine().close(id_, true).is_ok());
  SentSegment rst = take_segment();
  expect_segment(rst, kRst | kAck, iss_ + 1, kIrs + 1);
  EXPECT_EQ(rst.window, 0);
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 1u);
  expect_counters({{"resets_sent", 1}, {"connections_closed", 1}});
  // The tuple is free: the peer's next segment meets the listener, which resets it.
  peer_sends(from_peer(kAck, kIrs + 1));
  expect_segment(take_segment(), kRst, iss_ + 1, 0);
}

// ---- Resets and RFC 5961 ----

TEST_P(EngineConnection, RstWithExactSequenceResets) {
  mark();
  peer_sends({.flags = kRst, .seq = kIrs + 1});
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kReset, id_), 1u);
  EXPECT_EQ(state_of(id_), TcpState::kClosed);
  expect_counters({{"resets_received", 1}, {"established_resets", 1}, {"connections_closed", 1}});
  // The user still holds the id until it closes it.
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 0u);
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kReleased, id_), 1u);
}

TEST_P(EngineConnection, InWindowRstGetsChallengeAckRateLimited) {
  mark();
  peer_sends({.flags = kRst, .seq = kIrs + 11});
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 1);
  advance_by(milliseconds(499));
  peer_sends({.flags = kRst, .seq = kIrs + 12});
  expect_nothing_sent();
  expect_counters({{"challenge_acks_sent", 1}, {"drop.challenge_ack_limited", 1}});
  advance_by(milliseconds(1));  // 500 ms since the first: allowed again
  peer_sends({.flags = kRst, .seq = kIrs + 13});
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 1);
  EXPECT_EQ(stats().challenge_acks_sent.get(), 2u);
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
  EXPECT_EQ(stats().resets_received.get(), 0u);
}

TEST_P(EngineConnection, OutOfWindowRstIsDroppedSilently) {
  mark();
  peer_sends({.flags = kRst, .seq = kIrs + 1 + 200000});
  peer_sends({.flags = kRst, .seq = kIrs});
  expect_nothing_sent();
  expect_counters({{"drop.out_of_window", 2}});
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
}

TEST_P(EngineConnection, SynInEstablishedGetsChallengeAck) {
  mark();
  peer_sends({.flags = kSyn, .seq = kIrs + 1, .mss = 1460});
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 1);
  expect_counters({{"challenge_acks_sent", 1}});
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
}

// ---- TIME-WAIT ----

TEST_P(EngineConnection, TimeWaitRetransmittedFinIsAcknowledgedAgainAndRestartsTheWait) {
  enter_time_wait();
  advance_by(seconds(10));
  peer_sends(from_peer(kFin | kAck, kIrs + 1, {}, iss_ + 2));
  expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  Time restarted = now();
  advance_silently_to_just_before(restarted + seconds(60));
  EXPECT_EQ(engine().time_wait_count(), 1u);
  advance_to(restarted + seconds(60));
  EXPECT_EQ(engine().time_wait_count(), 0u);
}

TEST_P(EngineConnection, TimeWaitNewSynWithHigherSequenceReopensThroughTheListener) {
  enter_time_wait();
  advance_by(seconds(1));
  mark();
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs + 100000, peer_tsval_++));
  // Linux's tw_isn: the new incarnation starts above all the old one sent.
  expect_segment(synack, kSyn | kAck, iss_ + 2 + 65537, kIrs + 100001);
  EXPECT_EQ(engine().time_wait_count(), 0u);
  EXPECT_EQ(listener_info(listener_).syn_received, 1u);
  send(peer_, kPort, final_ack(synack));
  auto id = engine().accept(listener_);
  ASSERT_TRUE(id.is_ok());
  EXPECT_NE(*id, id_);
  EXPECT_EQ(state_of(*id), TcpState::kEstablished);
  expect_counters(
      {{"syns_received", 1}, {"synacks_sent", 1}, {"passive_opens", 1}, {"time_wait_reused", 1}});
}

TEST_P(EngineConnection, TimeWaitOldSynGetsAck) {
  enter_time_wait();
  // Neither its sequence number nor its timestamp is beyond the old connection's.
  peer_sends(linux_syn(kIrs));
  expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  EXPECT_EQ(engine().time_wait_count(), 1u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineConnection);

}  // namespace
}  // namespace tapstack::engine_test
