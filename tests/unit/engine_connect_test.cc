// Rules 3, 4 and 9: active open (RFC 9293 3.10.7.3), simultaneous open, and initial sequence
// numbers (RFC 6528).
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineConnect : public EngineFamilyTest {
 protected:
  EngineConnect() {
    peer_.port = 80;
    attach(peer_);
  }

  // Sends `spec` from the peer to the connection whose SYN was `our_syn`.
  void reply(const SentSegment& our_syn, const SegmentSpec& spec) {
    send(peer_, our_syn.source_port, spec);
  }

  Peer peer_;
};

// ---- Rule 3: active open ----

TEST_P(EngineConnect, ConnectSendsSynWithMssWsSackAndTimestamps) {
  mark();
  auto [id, s] = start_connect(peer_);
  expect_segment(s, kSyn, s.seq, 0);
  EXPECT_EQ(s.eth_destination, peer_.mac.to_string());
  EXPECT_EQ(s.ip_source, our_ip_text());
  EXPECT_EQ(s.ip_destination, peer_.ip_text());
  EXPECT_EQ(s.destination_port, 80);
  EXPECT_GE(s.source_port, 32768);  // Linux's ip_local_port_range
  EXPECT_LE(s.source_port, 60999);
  EXPECT_EQ(s.window, 65535);  // never scaled in a SYN
  EXPECT_EQ(s.mss, our_mss());
  EXPECT_EQ(s.window_scale, 2);  // the smallest shift that advertises 128 KiB
  EXPECT_TRUE(s.sack_permitted);
  ASSERT_TRUE(s.timestamp);
  EXPECT_EQ(s.timestamp->echo, 0u);
  // Linux's layout: MSS, SACK-permitted, timestamps, NOP, window scale.
  EXPECT_EQ(s.option_kinds, (std::vector<uint8_t>{2, 4, 8, 1, 3}));
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  EXPECT_EQ(info(id).local_port, s.source_port);
  EXPECT_EQ(state_changes(id), std::vector{TcpState::kSynSent});
  expect_counters({{"active_opens", 1}, {"segments_sent", 1}});
}

TEST_P(EngineConnect, SynIsRetransmittedWithSameSequenceAndFreshTimestamp) {
  auto [id, s] = start_connect(peer_);
  mark();
  SentSegment again = expect_segment_at(kStart + seconds(1));
  expect_segment(again, kSyn, s.seq, 0);
  EXPECT_EQ(again.option_kinds, s.option_kinds);
  EXPECT_EQ(again.timestamp->value, s.timestamp->value + 1000);
  expect_counters({{"syn_retransmits", 1}});
}

TEST_P(EngineConnect, SynAckWithAcceptableAckEstablishes) {
  auto [id, s] = start_connect(peer_);
  advance_by(milliseconds(3));
  mark();
  reply(s, linux_synack(7000, s, 9000));
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, s.seq + 1, 7001);
  ASSERT_TRUE(ack.timestamp);
  EXPECT_EQ(ack.timestamp->value, s.timestamp->value + 3);
  EXPECT_EQ(ack.timestamp->echo, 9000u);
  EXPECT_EQ(ack.window, 32768);  // 128 KiB free, scaled by our shift of 2
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
  EXPECT_EQ(event_kinds(id), (std::vector{Event::Kind::kStateChanged, Event::Kind::kStateChanged,
                                          Event::Kind::kEstablished}));
  EXPECT_EQ(events_.back().handshake_duration, milliseconds(3));
  EXPECT_EQ(events_.back().listener, 0u);
  ConnectionInfo c = connection_info(id);
  EXPECT_EQ(c.listener, 0u);
  EXPECT_EQ(c.mss, our_mss());
  EXPECT_EQ(c.send_window_scale, 7);
  EXPECT_EQ(c.receive_window_scale, 2);
  EXPECT_TRUE(c.sack_permitted);
  EXPECT_TRUE(c.timestamps);
  expect_counters({});
  advance_by(seconds(10));
  expect_nothing_sent();  // the SYN's retransmission timer is gone
}

TEST_P(EngineConnect, RstWithAcceptableAckIsRefused) {
  auto [id, s] = start_connect(peer_);
  mark();
  reply(s, {.flags = kRst | kAck, .seq = 0, .ack = s.seq + 1});
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kRefused, id), 1u);
  EXPECT_EQ(state_of(id), TcpState::kClosed);
  expect_counters({{"resets_received", 1}, {"attempt_fails", 1}, {"connections_closed", 1}});
  advance_by(seconds(10));
  expect_nothing_sent();
}

TEST_P(EngineConnect, RstWithoutAckIsIgnored) {
  auto [id, s] = start_connect(peer_);
  mark();
  reply(s, {.flags = kRst, .seq = 0});
  expect_nothing_sent();
  expect_counters({{"drop.syn_sent_ignored", 1}});
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  expect_segment(expect_segment_at(kStart + seconds(1)), kSyn, s.seq, 0);
}

TEST_P(EngineConnect, RstWithUnacceptableAckIsIgnored) {
  auto [id, s] = start_connect(peer_);
  mark();
  reply(s, {.flags = kRst | kAck, .seq = 0, .ack = s.seq + 5});
  reply(s, {.flags = kRst | kAck, .seq = 0, .ack = s.seq});
  expect_nothing_sent();
  expect_counters({{"drop.syn_sent_ignored", 2}});
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  EXPECT_EQ(count_events(Event::Kind::kRefused, id), 0u);
}

TEST_P(EngineConnect, SynAckWithUnacceptableAckGetsRstWithSeqOfSegAck) {
  auto [id, s] = start_connect(peer_);
  mark();
  for (uint32_t bad_ack : {s.seq + 5, s.seq}) {  // beyond SND.NXT; at or before ISS
    SegmentSpec synack = linux_synack(7000, s);
    synack.ack = bad_ack;
    reply(s, synack);
    expect_reset(take_segment(), peer_, s.source_port, kRst, bad_ack, 0);
  }
  expect_counters({{"drop.syn_sent_ignored", 2}, {"resets_sent", 2}});
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
}

// ---- Rule 4: simultaneous open ----

TEST_P(EngineConnect, SimultaneousOpenSynInSynSentGetsSynAckWithSameIss) {
  auto [id, s] = start_connect(peer_);
  advance_by(milliseconds(2));
  reply(s, linux_syn(7000, 9000));
  SentSegment synack = take_segment();
  expect_segment(synack, kSyn | kAck, s.seq, 7001);
  EXPECT_EQ(synack.mss, our_mss());
  EXPECT_EQ(synack.window_scale, 2);
  EXPECT_TRUE(synack.sack_permitted);
  ASSERT_TRUE(synack.timestamp);
  EXPECT_EQ(synack.timestamp->echo, 9000u);
  EXPECT_EQ(synack.timestamp->value, s.timestamp->value + 2);
  EXPECT_EQ(state_of(id), TcpState::kSynReceived);
  EXPECT_EQ(count_events(Event::Kind::kEstablished, id), 0u);

  // The matching ACK completes it; nothing needs saying.
  reply(s, {.flags = kAck, .seq = 7001, .ack = s.seq + 1, .timestamp = Timestamp{9001, 0}});
  expect_nothing_sent();
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
  EXPECT_EQ(state_changes(id),
            (std::vector{TcpState::kSynSent, TcpState::kSynReceived, TcpState::kEstablished}));
  EXPECT_EQ(count_events(Event::Kind::kEstablished, id), 1u);
  EXPECT_EQ(stats().active_opens.get(), 1u);
}

TEST_P(EngineConnect, SimultaneousOpenCompletesOnPeersSynAck) {
  auto [id, s] = start_connect(peer_);
  reply(s, linux_syn(7000, 9000));
  take_segment();
  // The peer's SYN-ACK crossing ours: its ISS again, acknowledging ours.
  reply(s, linux_synack(7000, s, 9001));
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, s.seq + 1, 7001);
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
  EXPECT_EQ(count_events(Event::Kind::kEstablished, id), 1u);
  advance_by(seconds(5));
  expect_nothing_sent();
}

TEST_P(EngineConnect, SimultaneousOpenSynAckIsRetransmitted) {
  auto [id, s] = start_connect(peer_);
  reply(s, linux_syn(7000, 9000));
  SentSegment synack = take_segment();
  SentSegment again = expect_segment_at(kStart + seconds(1));
  expect_segment(again, kSyn | kAck, s.seq, 7001);
  EXPECT_EQ(again.option_kinds, synack.option_kinds);
}

TEST_P(EngineConnect, SimultaneousOpenRstIsCheckedAsRfc5961Says) {
  auto [id, s] = start_connect(peer_);
  reply(s, linux_syn(7000, 9000));
  take_segment();
  mark();
  // In the window but not at RCV.NXT: a challenge ACK, as Linux's tcp_validate_incoming does.
  reply(s, {.flags = kRst, .seq = 7001 + 100});
  SentSegment challenge = take_segment();
  expect_segment(challenge, kAck, s.seq + 1, 7001);
  EXPECT_EQ(state_of(id), TcpState::kSynReceived);
  // Out of the window: dropped silently.
  reply(s, {.flags = kRst, .seq = 7001 + 200000});
  expect_nothing_sent();
  EXPECT_EQ(state_of(id), TcpState::kSynReceived);
  expect_counters({{"challenge_acks_sent", 1}, {"drop.out_of_window", 1}});
  // At RCV.NXT exactly: the attempt is refused.
  reply(s, {.flags = kRst, .seq = 7001});
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kRefused, id), 1u);
  EXPECT_EQ(state_of(id), TcpState::kClosed);
  EXPECT_EQ(stats().attempt_fails.get(), 1u);
}

TEST_P(EngineConnect, SimultaneousOpenAckOutsideTheWindowGetsAckAndDoesNotEstablish) {
  auto [id, s] = start_connect(peer_);
  reply(s, linux_syn(7000, 9000));
  take_segment();
  mark();
  reply(s, {.flags = kAck, .seq = 7001 + 200000, .ack = s.seq + 1});
  expect_segment(take_segment(), kAck, s.seq + 1, 7001);
  expect_counters({{"drop.out_of_window", 1}});
  EXPECT_EQ(state_of(id), TcpState::kSynReceived);
  reply(s, {.flags = kAck, .seq = 7001, .ack = s.seq + 1});
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
}

TEST_P(EngineConnect, RetransmittedSynAckInEstablishedIsAcknowledgedAgain) {
  auto [id, s] = open_active(peer_, 7000);
  ASSERT_EQ(state_of(id), TcpState::kEstablished);
  reply(s, linux_synack(7000, s));  // our ACK was lost
  expect_segment(take_segment(), kAck, s.seq + 1, 7001);
  EXPECT_EQ(state_of(id), TcpState::kEstablished);
}

TEST_P(EngineConnect, SynAckWithoutOptionsLeavesThemOff) {
  auto [id, s] = start_connect(peer_);
  reply(s, {.flags = kSyn | kAck, .seq = 7000, .ack = s.seq + 1, .window = 8192, .mss = 1000});
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, s.seq + 1, 7001);
  EXPECT_TRUE(ack.option_kinds.empty());  // no timestamps: the peer did not answer them
  EXPECT_EQ(ack.window, 65535);           // no window scale: 128 KiB free, capped unscaled
  ConnectionInfo c = connection_info(id);
  EXPECT_EQ(c.mss, 1000);
  EXPECT_EQ(c.send_window_scale, std::nullopt);
  EXPECT_EQ(c.receive_window_scale, std::nullopt);
  EXPECT_FALSE(c.sack_permitted);
  EXPECT_FALSE(c.timestamps);
}

// ---- Rule 9: ISN ----

TEST_P(EngineConnect, IsnDiffersPerTupleAndAdvancesWithTime) {
  auto connect_from = [&](uint16_t local_port, const Peer& to) {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(engine().bind(*id, any_address(), local_port).is_ok());
    EXPECT_TRUE(engine().connect(*id, to.address(), to.port).is_ok());
    SentSegment s = take_segment();
    EXPECT_EQ(s.source_port, local_port);
    return std::pair{*id, s.seq};
  };
  Peer other_host{.ip = Tins::IPv4Address("198.18.0.3"), .mac = peer_.mac, .port = 80};
  attach(other_host);
  auto [a, isn_a] = connect_from(40001, peer_);
  auto [b, isn_b] = connect_from(40002, peer_);
  auto [c, isn_c] = connect_from(40003, other_host);
  EXPECT_NE(isn_a, isn_b);
  EXPECT_NE(isn_a, isn_c);
  EXPECT_NE(isn_b, isn_c);

  // The same tuple one second later: RFC 6528's clock moved 10^6 / 4 ticks.
  ASSERT_TRUE(engine().close(a, false).is_ok());
  advance_by(seconds(1));
  take_frames();  // the other connections' SYN retransmissions
  auto [again, isn_again] = connect_from(40001, peer_);
  EXPECT_EQ(isn_again - isn_a, 250000u);
}

TEST_P(EngineConnect, PassiveIsnDiffersPerTupleAndAdvancesWithTime) {
  listen(80, 8);
  Peer client = peer_;
  client.port = 50000;
  uint32_t first = syn(client, 80, linux_syn(1000)).seq;
  client.port = 50001;
  uint32_t other_port = syn(client, 80, linux_syn(1000)).seq;
  EXPECT_NE(first, other_port);

  // The first record reset, the same tuple 2 ms later gets an ISS 500 ticks on.
  client.port = 50000;
  send(client, 80, {.flags = kRst, .seq = 1001});
  advance_by(milliseconds(2));
  EXPECT_EQ(syn(client, 80, linux_syn(1000)).seq - first, 500u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineConnect);

}  // namespace
}  // namespace tapstack::engine_test
