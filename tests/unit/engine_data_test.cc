// The data path of an established connection, driven by frames and the fake clock: write() cut
// into segments of the effective MSS, Nagle and the peer's window, ACK processing (SND.WL1/WL2,
// RFC 5961's ACK check), the RTO (RFC 6298) with go-back-N and give-up, fast retransmit (RFC
// 5681, RFC 6582), the persist timer, the FIN after the data, read() with end of stream, delayed
// ACKs and window updates on the receive side, and the status codes of the data calls.
#include <gtest/gtest.h>

#include "tests/unit/engine_data_fixture.h"

namespace tapstack::engine_test {
namespace {

// ---- Segmentation, Nagle and the peer's window ----

TEST_F(EngineData, WriteIsCutIntoSegmentsOfTheEffectiveMssWithPshOnTheLast) {
  EXPECT_EQ(connection_info(id_).mss, 1460);
  advance_by(milliseconds(5));
  EXPECT_EQ(write(data(2 * kMss)), 2 * kMss);
  auto segments = out();
  ASSERT_EQ(segments.size(), 2u);
  expect_data(segments[0], 0, kMss);
  expect_data(segments[1], kMss, kMss, kAck | kPsh);
  for (const auto& s : segments) {
    ASSERT_TRUE(s.timestamp);
    EXPECT_EQ(s.timestamp->value, our_tsval(now()));
    EXPECT_EQ(s.timestamp->echo, 6000u);  // the final ACK's TSval
    EXPECT_EQ(s.window, (128 * 1024) >> 2);
  }
  expect_counters({{"data_segments_sent", 2}, {"data_bytes_sent", 2 * kMss}});
}

TEST_F(EngineData, WithoutTimestampsSegmentsCarryTheWholeMss) {
  Peer other = peer_;
  other.port = 40001;
  SegmentSpec syn_without_timestamps = linux_syn(5000);
  syn_without_timestamps.timestamp.reset();
  SentSegment synack = syn(other, kPort, syn_without_timestamps);
  send(other, kPort, final_ack(synack));
  auto id = engine().accept(listener_);
  ASSERT_TRUE(id.is_ok());
  EXPECT_FALSE(connection_info(*id).timestamps);
  Bytes bytes = data(2 * 1460);
  ASSERT_TRUE(engine().write(*id, bytes).is_ok());
  auto segments = out();
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[0].payload_size, 1460u);
  EXPECT_EQ(segments[1].payload_size, 1460u);
  EXPECT_FALSE(segments[0].timestamp);
}

TEST_F(EngineData, NagleHoldsASmallSegmentWhileDataIsInFlightAndReleasesItOnAck) {
  write(data(100));
  expect_data(one(), 0, 100, kAck | kPsh);  // nothing in flight: goes at once
  write(data(50));
  write(data(50));
  expect_nothing_sent();
  advance_by(milliseconds(30));
  expect_nothing_sent();
  peer_acks(100);
  expect_data(one(), 100, 100, kAck | kPsh);  // both small writes in one segment
}

TEST_F(EngineData, FullSegmentsGoWhileTheTailWaitsForTheAck) {
  write(data(2 * kMss + 104));
  auto segments = out();
  ASSERT_EQ(segments.size(), 2u);
  expect_data(segments[0], 0, kMss);
  expect_data(segments[1], kMss, kMss);
  peer_acks(2 * kMss);
  expect_data(one(), 2 * kMss, 104, kAck | kPsh);
}

TEST_F(EngineData, SendWindowIsScaledAndRespected) {
  peer_acks(0, 64);  // 64 << 7 = 8192 bytes
  write(data(100000));
  auto segments = out();
  // Five full segments; the 952 bytes left in the window would be a silly segment (less than
  // half the largest window offered, 64256).
  ASSERT_EQ(segments.size(), 5u);
  for (size_t i = 0; i < segments.size(); ++i) expect_data(segments[i], i * kMss, kMss);
  // One acknowledged: the window's right edge moves 1448 on, room for one more full segment.
  peer_acks(kMss, 64);
  expect_data(one(), 5 * kMss, kMss);
  // The window shrinks to 16 << 7 = 2048 bytes beyond SND.UNA: all in flight is past that edge.
  peer_acks(2 * kMss, 16);
  expect_nothing_sent();
}

// RFC 9293 3.8.6.2.1 (d) and RFC 1122 4.2.3.4: with nothing in flight and a window too small for
// a full segment, an override timeout (0.1-1 s) sends what fits; Linux's probe timer
// (tcp_write_wakeup) sends a window-sized segment. Otherwise the connection stalls for ever.
TEST_F(EngineData, WindowTooSmallForAFullSegmentIsStillUsedAfterATimeout) {
  peer_acks(0, 8);  // 1024 bytes, while the largest window offered was 64256
  write(data(5000));
  expect_nothing_sent();  // sender SWS avoidance holds the 1024 bytes back for now
  advance_by(seconds(1));
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u) << "nothing sent into a 1024-byte window within 1 s";
  expect_data(segments[0], 0, 1024);
}

// ---- ACK processing ----

TEST_F(EngineData, AcknowledgedBytesFreeTheSendBuffer) {
  EngineConfig config;
  config.send_buffer = 8192;
  reopen(config);
  EXPECT_EQ(write(data(10000)), 8192u);
  EXPECT_EQ(write_error(id_), ErrorCode::kWouldBlock);
  out();
  peer_acks(kMss);
  EXPECT_EQ(write(data(2000)), kMss);
  EXPECT_EQ(write_error(id_), ErrorCode::kWouldBlock);
}

TEST_F(EngineData, ShortWriteEarnsOneWritableEventOnceHalfTheBufferIsFree) {
  EngineConfig config;
  config.send_buffer = 8192;
  reopen(config);
  EXPECT_EQ(write(data(10000)), 8192u);
  out();
  peer_acks(kMss);  // 1448 free: not yet half
  EXPECT_EQ(count_events(Event::Kind::kWritable, id_), 0u);
  peer_acks(3 * kMss);  // 4344 free
  EXPECT_EQ(count_events(Event::Kind::kWritable, id_), 1u);
  peer_acks(5 * kMss);  // the 952-byte tail goes now
  EXPECT_EQ(count_events(Event::Kind::kWritable, id_), 1u);
  // A write that the buffer takes whole owes no event.
  EXPECT_EQ(write(data(100)), 100u);
  out();
  peer_acks(8192);
  out();
  peer_acks(8192 + 100);
  EXPECT_EQ(count_events(Event::Kind::kWritable, id_), 1u);
}

// send_room() says what write() would take; finding none earns the event as a short write does.
TEST_F(EngineData, SendRoomIsWhatAWriteWouldTakeAndNoneEarnsTheWritableEvent) {
  EngineConfig config;
  config.send_buffer = 8192;
  reopen(config);
  EXPECT_EQ(*engine_->send_room(id_), 8192u);
  EXPECT_EQ(write(data(8192)), 8192u);
  auto full = engine_->send_room(id_);
  ASSERT_FALSE(full.is_ok());
  EXPECT_EQ(full.status().code, ErrorCode::kWouldBlock);
  out();
  peer_acks(3 * kMss);  // 4344 free: half
  EXPECT_EQ(count_events(Event::Kind::kWritable, id_), 1u);
  EXPECT_EQ(*engine_->send_room(id_), 3 * kMss);
  ASSERT_TRUE(engine_->shutdown(id_).is_ok());
  EXPECT_EQ(engine_->send_room(id_).status().code, ErrorCode::kFailedPrecondition);
}

TEST_F(EngineData, AckAboveSndNxtGetsAChallengeAckAndAcknowledgesNothing) {
  write(data(1000));
  out();
  mark();
  // RFC 9293 3.10.7.4 / RFC 5961 §5.2: an ACK of what we never sent: ACK, drop the segment.
  send(peer_, kPort, from_peer(2000, kWindowField, data(10)));  // the peer's RCV.NXT stays
  SentSegment challenge = one();
  expect_segment(challenge, kAck, at(1000), kIrs + 1);
  EXPECT_EQ(challenge.payload_size, 0u);
  EXPECT_EQ(connection_info(id_).bytes_received, 0u);
  expect_counters({{"challenge_acks_sent", 1}});
  // The 1000 bytes are still in flight: the RTO (the handshake's) sends them again.
  expect_data(one_at(kStart + kFirstRto), 0, 1000, kAck | kPsh);
}

TEST_F(EngineData, OlderAckDoesNotMoveTheWindowBackwards) {
  write(data(2 * kMss));
  out();
  SegmentSpec newer = from_peer(2 * kMss);
  SegmentSpec older = from_peer(kMss, 0);  // same SEG.SEQ, lower SEG.ACK: SND.WL2 says older
  older.timestamp = newer.timestamp;       // sent in the same millisecond: PAWS lets it through
  peer_sends(newer);
  peer_sends(older);  // reordered on the way
  write(data(1000));
  expect_data(one(), 2 * kMss, 1000, kAck | kPsh);
}

// RFC 9293 3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated";
// an ACK below SND.UNA is a duplicate and its window is not taken, whatever its SEG.SEQ.
TEST_F(EngineData, AckBelowSndUnaDoesNotUpdateTheWindow) {
  write(data(2 * kMss));
  out();
  peer_sends(from_peer(2 * kMss, kWindowField, data(10)));
  one();
  // More data from the peer (SEG.SEQ after SND.WL1) with an ACK below SND.UNA and a zero window.
  peer_sends(from_peer(kMss, 0, data(10, 10)));
  expect_segment(one(), kAck, at(2 * kMss), kIrs + 21);  // the data is taken and acknowledged
  write(data(1000));
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u) << "the stale zero window was taken";
  expect_data(segments[0], 2 * kMss, 1000, kAck | kPsh);
}

// ---- Retransmission timeout ----

// A lone segment's loss probe (two RTTs and a delayed ACK's 200 ms) is capped at the RTO and
// goes in its place (RFC 8985 §7.2, as Linux); the RTO restarts from it, then backs off.
TEST_F(EngineData, RtoStartsFromTheHandshakesRttAndBacksOff) {
  write(data(100));
  out();
  mark();
  expect_data(one_at(kStart + kFirstRto), 0, 100, kAck | kPsh);  // the probe
  expect_data(one_at(kStart + 2 * kFirstRto), 0, 100, kAck | kPsh);
  expect_data(one_at(kStart + 4 * kFirstRto), 0, 100, kAck | kPsh);
  expect_data(one_at(kStart + 8 * kFirstRto), 0, 100, kAck | kPsh);
  expect_counters({{"tlp_probes_sent", 1},
                   {"retransmit_timeouts", 3},
                   {"data_segments_retransmitted", 4},
                   {"data_segments_sent", 4},
                   {"data_bytes_sent", 400}});
}

// Linux's tcp_synack_rtt_meas: the final ACK's delay is the first sample (RFC 6298 §2.2).
TEST_F(EngineData, PassiveOpenTakesTheFirstRttSampleFromTheHandshake) {
  reopen(EngineConfig{}, milliseconds(100));  // SRTT 100, RTTVAR 50, RTO 100 + 4 * 50
  Time sent = now();
  write(data(100));
  out();
  expect_data(one_at(sent + milliseconds(300)), 0, 100, kAck | kPsh);
}

TEST_F(EngineData, ActiveOpenTakesTheFirstRttSampleFromTheSynAck) {
  restart(EngineConfig{});
  attach(peer_);
  auto [id, our_syn] = start_connect(peer_);
  advance_by(milliseconds(100));
  send(peer_, our_syn.source_port, linux_synack(7000, our_syn));
  take_segment();  // our ACK
  EXPECT_EQ(connection_info(id).srtt, milliseconds(100));
  EXPECT_EQ(connection_info(id).rto, milliseconds(300));
}

// Karn's algorithm: the final ACK of a retransmitted SYN-ACK may answer either copy, but its
// TSecr names the one it answers (Linux's tcp_ack_update_rtt falls back to it): the sample is
// the round trip of the copy that arrived.
TEST_F(EngineData, RetransmittedSynAckIsTimedByTheTimestampItsAckEchoes) {
  relisten();
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs));
  SentSegment again = one_at(kStart + seconds(1));
  EXPECT_EQ(again.seq, synack.seq);
  advance_by(milliseconds(30));
  send(peer_, kPort, final_ack(again));
  const EndpointId id = accept_one();
  EXPECT_EQ(connection_info(id).srtt, milliseconds(30));
  EXPECT_EQ(connection_info(id).rto, milliseconds(200));  // 30 + 4 * 15, under the floor
}

// The client's SYN went again (its SYN-ACK lost), so the SYN-ACK did too: Karn's rule holds as
// for the timer's retransmission, and the echo times the copy that arrived.
TEST_F(EngineData, SynAckResentForARetransmittedSynIsTimedByTheEcho) {
  relisten();
  syn(peer_, kPort, linux_syn(kIrs));
  advance_by(milliseconds(500));  // before our timer would send it again (a client's own timer)
  SentSegment again = syn(peer_, kPort, linux_syn(kIrs, 6000));
  advance_by(milliseconds(30));
  send(peer_, kPort, final_ack(again));
  const EndpointId id = accept_one();
  EXPECT_EQ(connection_info(id).srtt, milliseconds(30));
}

// An echo older than our first SYN-ACK is no measurement (Linux's PAWS check on the handshake):
// the 3 s fallback, not an RTO of days.
TEST_F(EngineData, AnEchoOlderThanTheHandshakeGivesNoSample) {
  relisten();
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs));
  one_at(kStart + seconds(1));
  SegmentSpec ack = final_ack(synack);
  ack.timestamp->echo = synack.timestamp->value - 100000;  // 100 s before it
  send(peer_, kPort, ack);
  const EndpointId id = accept_one();
  EXPECT_EQ(connection_info(id).srtt, Duration::zero());
  EXPECT_EQ(connection_info(id).rto, seconds(3));
}

// Without timestamps nothing says which copy arrived: no sample, and RFC 6298 §5.7 (Linux's
// TCP_TIMEOUT_FALLBACK) starts the data at a 3 s RTO rather than the initial 1 s.
TEST_F(EngineData, RetransmittedSynAckWithoutTimestampsStartsTheRtoAtThreeSeconds) {
  relisten();
  SegmentSpec no_timestamps = linux_syn(kIrs);
  no_timestamps.timestamp.reset();
  SentSegment synack = syn(peer_, kPort, no_timestamps);
  one_at(kStart + seconds(1));
  send(peer_, kPort, final_ack(synack));
  const EndpointId id = accept_one();
  EXPECT_EQ(connection_info(id).srtt, Duration::zero());
  EXPECT_EQ(connection_info(id).rto, seconds(3));
}

// The active side alike: the SYN-ACK echoes the TSval of the SYN it answers.
TEST_F(EngineData, RetransmittedSynIsTimedByTheTimestampTheSynAckEchoes) {
  restart(EngineConfig{});
  attach(peer_);
  auto [id, our_syn] = start_connect(peer_);
  SentSegment again = one_at(kStart + seconds(1));
  EXPECT_EQ(again.seq, our_syn.seq);
  advance_by(milliseconds(40));
  send(peer_, our_syn.source_port, linux_synack(7000, again));
  take_segment();  // our ACK
  EXPECT_EQ(connection_info(id).srtt, milliseconds(40));
}

TEST_F(EngineData, RtoFollowsTheRttFromTimestamps) {
  reopen(EngineConfig{}, milliseconds(100));  // SRTT 100, RTTVAR 50
  write(data(100));
  out();
  advance_by(milliseconds(100));
  peer_acks(100);  // echoes the TSval of 100 ms ago: RTTVAR 3/4 * 50, RTO 100 + 4 * 37.5
  Time sent = now();
  write(data(100));
  expect_data(one(), 100, 100, kAck | kPsh);
  // TLP's probe would wait 2 * SRTT + 200 ms for a lone segment; the RTO comes first, and the
  // probe goes then in its place (RFC 8985 §7.2), restarting it: the RTO fires 250 ms later,
  // and backs off.
  expect_data(one_at(sent + milliseconds(250)), 100, 100, kAck | kPsh);
  expect_data(one_at(sent + milliseconds(500)), 100, 100, kAck | kPsh);
  expect_data(one_at(sent + milliseconds(1000)), 100, 100, kAck | kPsh);
}

TEST_F(EngineData, RtoIsNeverBelow200Ms) {
  write(data(100));
  out();
  advance_by(milliseconds(10));
  peer_acks(100);  // RTT 10 ms: RFC 6298 would give 30 ms
  Time sent = now();
  write(data(100));
  out();
  expect_data(one_at(sent + milliseconds(200)), 100, 100, kAck | kPsh);
}

// Karn's algorithm is moot with timestamps, but a TSecr we never sent (from the future) is no
// measurement: Linux's tcp_rtt_tsopt_us drops it. Taken, it makes the RTO 120 s.
TEST_F(EngineData, TsecrFromTheFutureGivesNoRttSample) {
  write(data(100));
  out();
  SegmentSpec ack = from_peer(100);
  ack.timestamp->echo = our_tsval(now()) + 1000000;
  peer_sends(ack);
  Time sent = now();
  write(data(100));
  out();
  expect_data(one_at(sent + kFirstRto), 100, 100, kAck | kPsh);  // the handshake's RTO still
}

TEST_F(EngineData, TimeoutResendsFromSndUnaInSlowStartFromOneSegment) {
  write(data(3 * kMss));
  ASSERT_EQ(out().size(), 3u);
  // The loss probe goes first, two RTTs and two ticks on: the last segment again.
  const Time probe = now() + 2 * connection_info(id_).srtt + milliseconds(2);
  expect_data(one_at(probe), 2 * kMss, kMss, kAck | kPsh);
  mark();
  // RFC 5681 §3.1: after a timeout the window is one segment, so only SND.UNA's goes again.
  expect_data(one_at(probe + kFirstRto), 0, kMss);
  expect_counters({{"retransmit_timeouts", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 1},
                   {"data_bytes_sent", kMss}});
  // Its ACK opens the window to two: the rest of the flight goes again (go-back-N).
  peer_acks(kMss);
  auto segments = out();
  ASSERT_EQ(segments.size(), 2u);
  expect_data(segments[0], kMss, kMss);
  expect_data(segments[1], 2 * kMss, kMss, kAck | kPsh);
  peer_acks(3 * kMss);
  expect_nothing_sent();
}

TEST_F(EngineData, GivesUpAfterDataRetriesWithTimedOut) {
  EngineConfig config;
  config.data_retries = 3;
  reopen(config);
  // The loss probe at 1 RTO, retransmissions at 2, 4 and 8; at 16 the fourth expiry gives up,
  // silently (as Linux).
  expect_unanswered_write({1, 2, 4, 8}, 16);
  EXPECT_EQ(engine().shutdown(id_).code, ErrorCode::kDeadlineExceeded);
}

// ---- Fast retransmit ----

class EngineFastRetransmit : public EngineData {
 protected:
  // Five segments in flight, the first acknowledged.
  void five_in_flight() {
    write(data(5 * kMss));
    ASSERT_EQ(out().size(), 5u);
    peer_acks(kMss);
    expect_nothing_sent();
    mark();
  }
};

TEST_F(EngineFastRetransmit, ThreeDuplicateAcksRetransmitTheSegmentAtSndUnaOnce) {
  five_in_flight();
  peer_acks(kMss);
  peer_acks(kMss);
  expect_nothing_sent();
  peer_acks(kMss);
  expect_data(one(), kMss, kMss);
  peer_acks(kMss);
  peer_acks(kMss);
  expect_nothing_sent();
  expect_counters({{"fast_retransmits", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 1},
                   {"data_bytes_sent", kMss}});
}

TEST_F(EngineFastRetransmit, PartialAckRetransmitsTheNextHole) {
  five_in_flight();
  for (int i = 0; i < 3; ++i) peer_acks(kMss);
  expect_data(one(), kMss, kMss);
  peer_acks(2 * kMss);  // below the recovery point (5 * kMss): the next segment is lost too
  expect_data(one(), 2 * kMss, kMss);
  peer_acks(5 * kMss);  // the whole window repaired
  expect_nothing_sent();
  expect_counters({{"fast_retransmits", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 2},
                   {"data_bytes_sent", 2 * kMss}});
}

TEST_F(EngineFastRetransmit, WindowUpdatesAndDataAreNotDuplicateAcks) {
  five_in_flight();
  for (uint16_t w = 1; w <= 3; ++w) peer_acks(kMss, static_cast<uint16_t>(kWindowField + w));
  expect_nothing_sent();
  // Segments with data acknowledge them at once (quick ACKs) but are no duplicate ACKs.
  for (int i = 0; i < 3; ++i) {
    peer_sends(from_peer(kMss, kWindowField + 3, data(10)));
    EXPECT_EQ(one().payload_size, 0u);
  }
  expect_counters(
      {{"fast_retransmits", 0}, {"data_segments_retransmitted", 0}, {"data_bytes_received", 30}});
}

// ---- Zero window and the persist timer ----

class EngineZeroWindow : public EngineData {
 protected:
  // The peer closes its window; 100 bytes wait.
  void closed_window() {
    peer_acks(0, 0);
    write(data(100));
    expect_nothing_sent();
    mark();
  }
  // A zero-window probe: an old sequence number, no data.
  void expect_probe(const SentSegment& s) {
    expect_segment(s, kAck, at(0) - 1, peer_seq_);
    EXPECT_EQ(s.payload_size, 0u);
  }
  // `n` probes, each at its backed-off time, each answered with the window still closed.
  void answer_probes(int n) {
    Duration interval = kFirstRto;
    for (int i = 0; i < n; ++i) {
      expect_probe(one_at(now() + interval));
      peer_acks(0, 0);
      expect_nothing_sent();
      interval = std::min<Duration>(2 * interval, seconds(120));  // Linux's TCP_RTO_MAX
    }
  }
};

TEST_F(EngineZeroWindow, ProbesAtSndUnaMinusOneBackingOff) {
  closed_window();
  expect_probe(one_at(kStart + kFirstRto));
  expect_probe(one_at(kStart + 3 * kFirstRto));
  expect_probe(one_at(kStart + 7 * kFirstRto));
  expect_counters({{"zero_window_probes_sent", 3}});
}

TEST_F(EngineZeroWindow, WindowOpeningResumesSending) {
  closed_window();
  expect_probe(one_at(kStart + kFirstRto));
  peer_acks(0);  // the answer opens the window
  expect_data(one(), 0, 100, kAck | kPsh);
}

TEST_F(EngineZeroWindow, PeerAnsweringProbesIsNeverGivenUp) {
  EngineConfig config;
  config.data_retries = 3;
  reopen(config);
  closed_window();
  answer_probes(12);
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 0u);
}

TEST_F(EngineZeroWindow, AnySegmentFromThePeerResetsTheProbeCount) {
  EngineConfig config;
  config.data_retries = 3;
  reopen(config);
  closed_window();
  expect_probe(one_at(kStart + kFirstRto));
  expect_probe(one_at(kStart + 3 * kFirstRto));
  // Data from the peer (its window still closed): it is alive, the unanswered probes count 0.
  peer_sends(from_peer(0, 0, data(10)));
  one();
  auto sent = run_timers_until(now() + seconds(1000));
  EXPECT_EQ(sent.size(), 3u) << "probes after the peer spoke";
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
}

// The persist timer's backoff must not carry over to the data once the window opens: Linux's
// tcp_ack_probe clears icsk_backoff. Carried over, the first RTO is 2^probes times too long.
TEST_F(EngineZeroWindow, RtoAfterTheWindowOpensIsNotBackedOffByTheProbes) {
  closed_window();
  Duration interval = kFirstRto;
  for (int i = 0; i < 3; ++i) {
    expect_probe(one_at(now() + interval));
    peer_acks(0, 0);
    interval *= 2;
  }
  peer_acks(0);  // the window opens
  expect_data(one(), 0, 100, kAck | kPsh);
  Time sent = now();
  // The handshake's RTO, not backed off.
  expect_data(one_at(sent + kFirstRto), 0, 100, kAck | kPsh);
}

// A zero window for longer than data_retries probes, answered all along, then one lost segment:
// the connection must retransmit, not time out at once.
TEST_F(EngineZeroWindow, LongZeroWindowThenOneLossDoesNotEndTheConnection) {
  EngineConfig config;
  config.data_retries = 3;
  reopen(config);
  closed_window();
  answer_probes(5);
  peer_acks(0);
  expect_data(one(), 0, 100, kAck | kPsh);
  auto sent = run_timers_until(now() + seconds(300));
  ASSERT_FALSE(sent.empty()) << "timed out without retransmitting the lost segment once";
  expect_data(sent[0].second, 0, 100, kAck | kPsh);
}

// ---- The FIN after the data ----

TEST_F(EngineData, FinRidesOnTheLastDataWhenBothWait) {
  peer_acks(0, 0);
  write(data(100));
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  EXPECT_EQ(state_of(id_), TcpState::kFinWait1);
  expect_nothing_sent();
  peer_acks(0);
  expect_data(one(), 0, 100, kAck | kPsh | kFin);
  peer_acks(101);
  EXPECT_EQ(state_of(id_), TcpState::kFinWait2);
}

TEST_F(EngineData, FinAfterDataInFlightGoesAloneAtOnce) {
  write(data(100));
  out();
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  expect_segment(one(), kFin | kAck, at(100), peer_seq_);
}

// Linux's tcp_send_fin pushes with Nagle off: a tail held back for an ACK goes with the FIN at
// once, instead of one round trip (or a delayed ACK) later.
TEST_F(EngineData, ShutdownPushesTheTailNagleHeld) {
  write(data(100));
  out();
  write(data(100));
  expect_nothing_sent();
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u) << "the tail and the FIN wait for the ACK of the first write";
  expect_data(segments[0], 100, 100, kAck | kPsh | kFin);
}

TEST_F(EngineData, RetransmissionCarriesTheLastDataAndTheFinTogether) {
  write(data(100));
  out();
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  one();  // the FIN alone
  // The loss probe (two segments: two RTTs and two ticks) resends the last MSS of the flight.
  const Time probe = kStart + 2 * connection_info(id_).srtt + milliseconds(2);
  expect_data(one_at(probe), 0, 100, kAck | kPsh | kFin);
  expect_data(one_at(probe + kFirstRto), 0, 100, kAck | kPsh | kFin);  // and the RTO
  peer_acks(101);
  expect_nothing_sent();
  EXPECT_EQ(state_of(id_), TcpState::kFinWait2);
}

TEST_F(EngineData, ReadingContinuesAfterShutdownUntilThePeersFin) {
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  expect_segment(one(), kFin | kAck, at(0), peer_seq_);
  peer_acks(1);
  EXPECT_EQ(state_of(id_), TcpState::kFinWait2);
  peer_sends(from_peer(1, kWindowField, data(100)));
  one();
  EXPECT_EQ(count_events(Event::Kind::kReadable, id_), 1u);
  EXPECT_EQ(read_all(id_), data(100));
  EXPECT_EQ(read_error(id_), ErrorCode::kWouldBlock);
  // More data and the FIN: TIME-WAIT goes to a record, the held connection is CLOSED, and what
  // came is still read, then the end of the stream.
  peer_sends(from_peer(1, kWindowField, data(50, 100), kFin));
  expect_segment(one(), kAck, at(1), kIrs + 152);
  EXPECT_EQ(state_of(id_), TcpState::kClosed);
  EXPECT_EQ(read_all(id_), data(50, 100));
  auto end = read(16);
  ASSERT_TRUE(end.is_ok()) << end.status().message;
  EXPECT_EQ(*end, 0u);
  EXPECT_EQ(write_error(id_), ErrorCode::kFailedPrecondition);
}

TEST_F(EngineData, PeerFinGivesEndOfStreamAfterTheData) {
  EXPECT_EQ(read_error(id_), ErrorCode::kWouldBlock);
  peer_sends(from_peer(0, kWindowField, data(100), kFin | kPsh));
  expect_segment(one(), kAck, at(0), kIrs + 102);
  EXPECT_EQ(state_of(id_), TcpState::kCloseWait);
  EXPECT_EQ(count_events(Event::Kind::kReadable, id_), 1u);
  auto first = read(60);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(*first, 60u);
  auto rest = read(60);
  ASSERT_TRUE(rest.is_ok());
  EXPECT_EQ(*rest, 40u);
  for (int i = 0; i < 2; ++i) {
    auto end = read(60);
    ASSERT_TRUE(end.is_ok());
    EXPECT_EQ(*end, 0u);
  }
  // The write side is still open in CLOSE-WAIT.
  EXPECT_EQ(write(data(10)), 10u);
  expect_data(one(), 0, 10, kAck | kPsh);
}

TEST_F(EngineData, FinAloneIsReadableAsEndOfStream) {
  peer_sends(from_peer(0, kWindowField, {}, kFin));
  one();
  EXPECT_EQ(count_events(Event::Kind::kReadable, id_), 1u);
  auto end = read(16);
  ASSERT_TRUE(end.is_ok());
  EXPECT_EQ(*end, 0u);
}

TEST_F(EngineData, CloseWithUnreadDataResets) {
  peer_sends(from_peer(0, kWindowField, data(100)));
  one();
  mark();
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  SentSegment rst = one();
  expect_segment(rst, kRst | kAck, at(0), kIrs + 101);
  EXPECT_EQ(rst.window, 0);
  expect_counters({{"aborts_on_close", 1}, {"resets_sent", 1}, {"connections_closed", 1}});
  EXPECT_EQ(engine().query(id_).status().code, ErrorCode::kNotFound);
}

TEST_F(EngineData, CloseAfterReadingEverythingSendsFinAfterQueuedData) {
  peer_acks(0, 0);
  write(data(100));
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  expect_nothing_sent();
  peer_acks(0);
  expect_data(one(), 0, 100, kAck | kPsh | kFin);
}

// ---- The receive side ----

class EngineReceive : public EngineData {
 protected:
  // The first 16 data segments are acknowledged at once (Linux's quickack mode).
  void use_up_quick_acks() {
    for (int i = 0; i < 16; ++i) {
      peer_sends(from_peer(0, kWindowField, data(10)));
      expect_segment(one(), kAck, at(0), peer_seq_);
    }
    mark();
  }
};

TEST_F(EngineReceive, AckIsDelayed40MsOnceQuickAcksAreUsedUp) {
  use_up_quick_acks();
  peer_sends(from_peer(0, kWindowField, data(10)));
  Time arrived = now();
  expect_segment(one_at(arrived + milliseconds(40)), kAck, at(0), peer_seq_);
  expect_counters({{"delayed_acks_sent", 1}, {"data_bytes_received", 10}});
}

TEST_F(EngineReceive, DelayedAckIsCarriedByOurData) {
  use_up_quick_acks();
  peer_sends(from_peer(0, kWindowField, data(10)));
  expect_nothing_sent();
  write(data(20));
  expect_data(one(), 0, 20, kAck | kPsh);  // acknowledges the peer's 10 bytes
  advance_by(milliseconds(40));
  expect_nothing_sent();
}

// RFC 5681 §4.2 and RFC 1122 4.2.3.2: an ACK at least for every second full-sized segment. With
// timestamps a full-sized segment carries 1448 bytes, not the 1460 of the MSS option (Linux
// measures rcv_mss from the segments themselves).
TEST_F(EngineReceive, EverySecondFullSizedSegmentIsAcknowledgedAtOnce) {
  use_up_quick_acks();
  peer_sends(from_peer(0, kWindowField, data(kMss)));
  expect_nothing_sent();
  peer_sends(from_peer(0, kWindowField, data(kMss)));
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u) << "two full-sized segments and no ACK";
  expect_segment(segments[0], kAck, at(0), peer_seq_);
}

TEST_F(EngineReceive, ReadAnnouncesTheReopenedWindowWithoutAnAckStorm) {
  EngineConfig config;
  config.receive_buffer = 4096;
  reopen(config);
  for (size_t sent = 0; sent < 4096; sent += kMss) {
    peer_sends(from_peer(0, kWindowField, data(std::min(kMss, 4096 - sent))));
    one();
  }
  EXPECT_EQ(connection_info(id_).bytes_buffered, 4096u);
  // Read 10 bytes at a time: the window is announced when it is worth an MSS (1460 free), and
  // again when it doubled (2920), not for every read.
  std::vector<uint16_t> windows;
  for (size_t got = 0; got < 4096;) {
    auto n = read(10);
    ASSERT_TRUE(n.is_ok());
    got += *n;
    for (const auto& s : out()) {
      expect_segment(s, kAck, at(0), peer_seq_);
      windows.push_back(s.window);
    }
  }
  EXPECT_EQ(windows, (std::vector<uint16_t>{1460, 2920}));  // no window scale for 4096 bytes
}

// ---- Status codes of the data calls ----

TEST_F(EngineData, DataCallsOnAListenerAreFailedPrecondition) {
  EXPECT_EQ(write_error(listener_), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(read_error(listener_), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(engine().shutdown(listener_).code, ErrorCode::kFailedPrecondition);
}

TEST_F(EngineData, DataCallsOnAnUnknownIdAreNotFound) {
  EXPECT_EQ(write_error(9999), ErrorCode::kNotFound);
  EXPECT_EQ(read_error(9999), ErrorCode::kNotFound);
  EXPECT_EQ(engine().shutdown(9999).code, ErrorCode::kNotFound);
}

TEST_F(EngineData, WriteAfterShutdownIsFailedPreconditionAndShutdownTwiceIsOk) {
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  one();
  EXPECT_EQ(write_error(id_), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(engine().shutdown(id_).is_ok());
  expect_nothing_sent();
  EXPECT_EQ(read_error(id_), ErrorCode::kWouldBlock);  // reading goes on
}

TEST_F(EngineData, DataCallsAfterThePeersResetAreUnavailable) {
  peer_sends(from_peer(0, kWindowField, {}, kRst));
  EXPECT_EQ(count_events(Event::Kind::kReset, id_), 1u);
  EXPECT_EQ(write_error(id_), ErrorCode::kUnavailable);
  EXPECT_EQ(read_error(id_), ErrorCode::kUnavailable);
  EXPECT_EQ(engine().shutdown(id_).code, ErrorCode::kUnavailable);
}

TEST_F(EngineData, WriteDuringSynSentWouldBlock) {
  auto [id, our_syn] = start_connect(peer_);
  EXPECT_EQ(write_error(id), ErrorCode::kWouldBlock);
  EXPECT_EQ(read_error(id), ErrorCode::kWouldBlock);
  expect_nothing_sent();
}

TEST_F(EngineData, ReadBeforeDataWouldBlockAndWriteOfNothingTakesNothing) {
  EXPECT_EQ(read_error(id_), ErrorCode::kWouldBlock);
  auto n = engine().write(id_, {});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  expect_nothing_sent();
}

}  // namespace
}  // namespace tapstack::engine_test
