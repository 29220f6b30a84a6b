// Rules 2, 5 and 6: passive open through a listener (SYN-RCVD table, accept queue and their
// limits), the half-open record's answers in SYN-RCVD, and what a listener or a closed port
// says to segments that match no connection. Counters are checked exactly, every one of them.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint16_t kClosedPort = 81;

class EngineListen : public EngineFamilyTest {
 protected:
  EngineListen() { attach(peer_); }

  // `peer_` from another source port: a second client on the same host.
  Peer client(uint16_t port) const {
    Peer p = peer_;
    p.port = port;
    return p;
  }

  Peer peer_;
};

// ---- Rule 2: passive open ----

TEST_P(EngineListen, SynGetsSynAckWithOurIssAndAHalfOpenRecord) {
  EndpointId listener = listen(kPort, 8);
  mark();
  SentSegment synack = syn(peer_, kPort, linux_syn(1000, 5000));
  EXPECT_EQ(flags_string(synack.flags), flags_string(kSyn | kAck));
  EXPECT_EQ(synack.ack, 1001u);
  EXPECT_EQ(synack.eth_destination, peer_.mac.to_string());
  EXPECT_EQ(synack.eth_source, kOurMac.to_string());
  EXPECT_EQ(synack.ip_source, our_ip_text());
  EXPECT_EQ(synack.ip_destination, peer_.ip_text());
  EXPECT_EQ(synack.source_port, kPort);
  EXPECT_EQ(synack.destination_port, peer_.port);
  EXPECT_EQ(synack.payload_size, 0u);
  ASSERT_TRUE(synack.timestamp);
  EXPECT_EQ(synack.timestamp->echo, 5000u);

  ListenerInfo l = listener_info(listener);
  EXPECT_EQ(l.syn_received, 1u);
  EXPECT_EQ(l.accept_queue, 0u);
  EXPECT_EQ(engine().accept(listener).status().code, ErrorCode::kWouldBlock);
  // A half-open connection is no endpoint: only the listener exists.
  EXPECT_EQ(engine().endpoint_count(), 1u);
  expect_counters(
      {{"syns_received", 1}, {"synacks_sent", 1}, {"segments_received", 1}, {"segments_sent", 1}});

  // The final ACK acknowledges exactly our ISS + 1 and completes the handshake.
  advance_by(milliseconds(7));
  send(peer_, kPort, final_ack(synack));
  expect_nothing_sent();
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  EXPECT_EQ(listener_info(listener).accept_queue, 1u);
}

TEST_P(EngineListen, FinalAckPutsEstablishedConnectionOnAcceptQueue) {
  EndpointId listener = listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000));
  advance_by(milliseconds(12));
  mark();
  send(peer_, kPort, final_ack(synack));
  expect_nothing_sent();
  expect_counters({{"passive_opens", 1}});

  auto accepted = engine().accept(listener);
  ASSERT_TRUE(accepted.is_ok()) << accepted.status().message;
  EndpointId id = *accepted;
  EXPECT_EQ(engine().accept(listener).status().code, ErrorCode::kWouldBlock);
  EndpointInfo i = info(id);
  EXPECT_EQ(i.state, TcpState::kEstablished);
  EXPECT_EQ(i.local_port, kPort);
  EXPECT_EQ(i.remote_address, peer_.address());
  EXPECT_EQ(i.remote_port, peer_.port);
  ASSERT_TRUE(i.connection);
  EXPECT_EQ(i.connection->listener, listener);
  EXPECT_FALSE(i.connection->from_syn_cookie);
  EXPECT_EQ(listener_info(listener).accept_queue, 0u);

  EXPECT_EQ(event_kinds(id),
            (std::vector{Event::Kind::kEstablished, Event::Kind::kConnectionReady}));
  for (const Event& e : events_) {
    if (e.endpoint != id) continue;
    EXPECT_EQ(e.listener, listener);
    EXPECT_EQ(e.state, TcpState::kEstablished);
    if (e.kind == Event::Kind::kEstablished) {
      EXPECT_EQ(e.handshake_duration, milliseconds(12));
    }
  }
}

TEST_P(EngineListen, AcceptQueueHoldsExactlyBacklog) {
  // The documented choice: `backlog` connections, where Linux holds backlog + 1.
  EndpointId listener = listen(kPort, 2, 16);
  for (uint16_t port = 1; port <= 2; ++port) {
    SentSegment synack = syn(client(port), kPort, linux_syn(1000));
    send(client(port), kPort, final_ack(synack));
  }
  EXPECT_EQ(listener_info(listener).accept_queue, 2u);

  mark();
  send(client(3), kPort, linux_syn(1000));
  expect_nothing_sent();
  expect_counters({{"syns_received", 1},
                   {"listen_overflows", 1},
                   {"listen_drops", 1},
                   {"accept_queue_full_syn_drops", 1},
                   {"drop.accept_queue_full", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  EXPECT_EQ(listener_info(listener).accept_queue, 2u);

  // One accept() makes room for exactly one more.
  ASSERT_TRUE(engine().accept(listener).is_ok());
  SentSegment synack = syn(client(3), kPort, linux_syn(1000));
  send(client(3), kPort, final_ack(synack));
  EXPECT_EQ(listener_info(listener).accept_queue, 2u);
}

TEST_P(EngineListen, SynBacklogDefaultsToBacklogAndIsConfigurable) {
  EndpointId by_default = listen(kPort, 3);
  EXPECT_EQ(listener_info(by_default).backlog, 3u);
  EXPECT_EQ(listener_info(by_default).syn_backlog, 3u);
  EndpointId configured = listen(kClosedPort, 3, 7);
  EXPECT_EQ(listener_info(configured).backlog, 3u);
  EXPECT_EQ(listener_info(configured).syn_backlog, 7u);
  // listen() again on a listener adjusts its limits.
  ASSERT_TRUE(engine().listen(by_default, 5).is_ok());
  EXPECT_EQ(listener_info(by_default).backlog, 5u);
  EXPECT_EQ(listener_info(by_default).syn_backlog, 5u);
  EXPECT_EQ(engine().listen(by_default, 0).code, ErrorCode::kInvalidArgument);
}

TEST_P(EngineListen, SynReceivedTableFullWithCookiesNeverDropsSyn) {
  TunableConfig tunable = engine().tunable();
  tunable.syncookies = tcp::SynCookieMode::kNever;
  engine().update_tunable(tunable);
  EndpointId listener = listen(kPort, 8, 2);
  syn(client(1), kPort, linux_syn(1000));
  syn(client(2), kPort, linux_syn(2000));
  EXPECT_EQ(listener_info(listener).syn_received, 2u);

  mark();
  send(client(3), kPort, linux_syn(3000));
  expect_nothing_sent();
  expect_counters({{"syns_received", 1},
                   {"syn_queue_full", 1},
                   {"listen_drops", 1},
                   {"drop.syn_queue_full", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 2u);
}

TEST_P(EngineListen, SynReceivedTableFullWithCookiesAutoAnswersWithCookie) {
  EndpointId listener = listen(kPort, 8, 1);
  syn(client(1), kPort, linux_syn(1000));
  mark();
  SentSegment cookie = syn(client(2), kPort, linux_syn(2000));
  expect_segment(cookie, kSyn | kAck, cookie.seq, 2001);
  expect_counters(
      {{"syns_received", 1}, {"syn_queue_full", 1}, {"syncookies_sent", 1}, {"synacks_sent", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 1u);  // no record for the cookie

  mark();
  send(client(2), kPort, final_ack(cookie));
  expect_nothing_sent();
  expect_counters({{"syncookies_validated", 1}, {"passive_opens", 1}});
  auto id = engine().accept(listener);
  ASSERT_TRUE(id.is_ok());
  EXPECT_TRUE(connection_info(*id).from_syn_cookie);
}

TEST_P(EngineListen, FinalAckWithAcceptQueueFullIsDroppedAndSynAckRetransmissionContinues) {
  EndpointId listener = listen(kPort, 1, 4);
  SentSegment first = syn(client(1), kPort, linux_syn(1000));
  SentSegment second = syn(client(2), kPort, linux_syn(2000));
  send(client(1), kPort, final_ack(first));
  ASSERT_EQ(listener_info(listener).accept_queue, 1u);

  mark();
  send(client(2), kPort, final_ack(second));
  expect_nothing_sent();
  expect_counters({{"listen_overflows", 1},
                   {"listen_drops", 1},
                   {"accept_queue_full_ack_drops", 1},
                   {"drop.accept_queue_full", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 1u);  // the record stays

  // Its SYN-ACK goes on being retransmitted on schedule.
  SentSegment again = expect_segment_at(kStart + seconds(1));
  expect_segment(again, kSyn | kAck, second.seq, 2001);
  EXPECT_EQ(again.destination_port, 2);

  // Once accept() made room, the client's next ACK completes the connection.
  ASSERT_TRUE(engine().accept(listener).is_ok());
  mark();
  send(client(2), kPort, final_ack(second));
  expect_nothing_sent();
  expect_counters({{"passive_opens", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  EXPECT_EQ(listener_info(listener).accept_queue, 1u);
  auto id = engine().accept(listener);
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(info(*id).remote_port, 2);
  EXPECT_EQ(count_events(Event::Kind::kConnectionReady, *id), 1u);
}

TEST_P(EngineListen, AbortOnOverflowAnswersFinalAckWithReset) {
  TunableConfig tunable = engine().tunable();
  tunable.abort_on_overflow = true;
  engine().update_tunable(tunable);
  EndpointId listener = listen(kPort, 1, 4);
  SentSegment first = syn(client(1), kPort, linux_syn(1000));
  SentSegment second = syn(client(2), kPort, linux_syn(2000));
  send(client(1), kPort, final_ack(first));

  mark();
  send(client(2), kPort, final_ack(second));
  expect_reset(take_segment(), client(2), kPort, kRst, second.seq + 1, 0);
  expect_counters({{"listen_overflows", 1},
                   {"listen_drops", 1},
                   {"accept_queue_full_ack_drops", 1},
                   {"drop.accept_queue_full", 1},
                   {"resets_sent", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  advance_by(seconds(2));
  expect_nothing_sent();  // the record is gone with its timer
}

TEST_P(EngineListen, ClosingListenerResetsQueuedConnectionsAndForgetsHalfOpenOnes) {
  EndpointId listener = listen(kPort, 8);
  SentSegment queued = syn(client(1), kPort, linux_syn(1000));
  send(client(1), kPort, final_ack(queued));
  syn(client(2), kPort, linux_syn(2000));  // still half-open
  ASSERT_EQ(events_.back().kind, Event::Kind::kConnectionReady);
  EndpointId queued_id = events_.back().endpoint;

  mark();
  ASSERT_TRUE(engine().close(listener, false).is_ok());
  SentSegment rst = take_segment();
  expect_segment(rst, kRst | kAck, queued.seq + 1, 1001);
  EXPECT_EQ(rst.destination_port, 1);
  EXPECT_EQ(count_events(Event::Kind::kReleased, queued_id), 1u);
  EXPECT_EQ(count_events(Event::Kind::kReleased, listener), 1u);
  EXPECT_EQ(engine().endpoint_count(), 0u);
  expect_counters({{"resets_sent", 1}, {"connections_closed", 1}});
  advance_by(seconds(2));
  expect_nothing_sent();  // no SYN-ACK retransmission for the forgotten half-open one
  send(client(3), kPort, linux_syn(3000));
  expect_reset(take_segment(), client(3), kPort, kRst | kAck, 0, 3001);
}

// ---- SYN cookies (the listener's other way to answer) ----

class EngineCookies : public EngineListen {
 protected:
  EngineCookies() {
    TunableConfig tunable = engine().tunable();
    tunable.syncookies = tcp::SynCookieMode::kAlways;
    engine().update_tunable(tunable);
    listener_ = listen(kPort, 8);
  }
  EndpointId listener_ = 0;
};

TEST_P(EngineCookies, CookieKeepsNoStateAndTheConnectionKeepsWsSackAndTimestamps) {
  mark();
  SentSegment synack = syn(peer_, kPort, linux_syn(1000, 5000));
  expect_segment(synack, kSyn | kAck, synack.seq, 1001);
  EXPECT_EQ(synack.option_kinds, (std::vector<uint8_t>{2, 4, 8, 1, 3}));
  EXPECT_EQ(listener_info(listener_).syn_received, 0u);
  expect_counters({{"syns_received", 1}, {"synacks_sent", 1}, {"syncookies_sent", 1}});

  advance_by(milliseconds(5));
  mark();
  send(peer_, kPort, final_ack(synack));
  expect_nothing_sent();
  expect_counters({{"syncookies_validated", 1}, {"passive_opens", 1}});
  auto id = engine().accept(listener_);
  ASSERT_TRUE(id.is_ok());
  ConnectionInfo c = connection_info(*id);
  EXPECT_TRUE(c.from_syn_cookie);
  EXPECT_EQ(c.mss, our_mss());
  EXPECT_EQ(c.send_window_scale, 7);
  EXPECT_EQ(c.receive_window_scale, 2);
  EXPECT_TRUE(c.sack_permitted);
  EXPECT_TRUE(c.timestamps);
}

TEST_P(EngineCookies, InvalidCookieGetsRst) {
  SentSegment synack = syn(peer_, kPort, linux_syn(1000));
  SegmentSpec ack = final_ack(synack);
  // The MSS index in the cookie's low bits moves past either family's table (a Linux SYN's 1460
  // is index 3 of IPv4's, 2 of IPv6's; one more is a valid IPv6 index).
  ack.ack += 4;
  mark();
  send(peer_, kPort, ack);
  expect_reset(take_segment(), peer_, kPort, kRst, ack.ack, 0);
  expect_counters({{"syncookies_failed", 1}, {"resets_sent", 1}});
}

TEST_P(EngineCookies, CookieIsValidForTwoMinuteTicksOnly) {
  // kStart is 40 s into a minute: the cookie's minute and the next one accept it.
  SentSegment young = syn(client(1), kPort, linux_syn(1000));
  SentSegment old = syn(client(2), kPort, linux_syn(2000));
  advance_to(kStart + seconds(79));
  send(client(1), kPort, final_ack(young));
  expect_nothing_sent();
  EXPECT_EQ(listener_info(listener_).accept_queue, 1u);
  advance_to(kStart + seconds(80));
  send(client(2), kPort, final_ack(old));
  expect_reset(take_segment(), client(2), kPort, kRst, old.seq + 1, 0);
  EXPECT_EQ(listener_info(listener_).accept_queue, 1u);
}

TEST_P(EngineCookies, CookieSentBeforeASecretRotationStillCompletes) {
  SentSegment before = syn(client(1), kPort, linux_syn(1000));
  engine().rotate_cookie_secret();
  SentSegment again = syn(client(1), kPort, linux_syn(1000));
  EXPECT_NE(again.seq, before.seq) << "the same SYN under a new secret gets another cookie";
  advance_by(seconds(30));
  mark();
  send(client(1), kPort, final_ack(before));
  expect_nothing_sent();
  expect_counters({{"syncookies_validated", 1}, {"passive_opens", 1}});
  EXPECT_EQ(listener_info(listener_).accept_queue, 1u);
}

// ---- Rule 5: SYN-RCVD ----

TEST_P(EngineListen, SynReceivedInWindowRstDropsHalfOpenRecord) {
  EndpointId listener = listen(kPort, 8);
  // At RCV.NXT exactly, and anywhere else in the window (Linux's tcp_check_req).
  for (uint32_t offset : {0u, 1000u}) {
    syn(peer_, kPort, linux_syn(1000));
    ASSERT_EQ(listener_info(listener).syn_received, 1u);
    mark();
    send(peer_, kPort, {.flags = kRst, .seq = 1001 + offset});
    expect_nothing_sent();
    expect_counters({{"resets_received", 1}, {"attempt_fails", 1}});
    EXPECT_EQ(listener_info(listener).syn_received, 0u);
  }
  advance_by(seconds(2));
  expect_nothing_sent();
}

TEST_P(EngineListen, SynReceivedOutOfWindowRstIsIgnored) {
  EndpointId listener = listen(kPort, 8);
  syn(peer_, kPort, linux_syn(1000));
  mark();
  send(peer_, kPort, {.flags = kRst, .seq = 1001 + 70000});
  expect_nothing_sent();
  expect_counters({{"drop.out_of_window", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 1u);
}

TEST_P(EngineListen, SynReceivedUnacceptableAckGetsRstWithSeqOfSegAck) {
  EndpointId listener = listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000));
  mark();
  send(peer_, kPort, {.flags = kAck, .seq = 1001, .ack = synack.seq + 100});
  expect_reset(take_segment(), peer_, kPort, kRst, synack.seq + 100, 0);
  expect_counters({{"resets_sent", 1}});
  // The record survives: the real client's ACK still completes.
  EXPECT_EQ(listener_info(listener).syn_received, 1u);
  send(peer_, kPort, final_ack(synack));
  EXPECT_EQ(listener_info(listener).accept_queue, 1u);
}

TEST_P(EngineListen, SynReceivedRetransmittedSynGetsSameSynAck) {
  EndpointId listener = listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000, 5000));
  advance_by(milliseconds(200));
  mark();
  SentSegment again = syn(peer_, kPort, linux_syn(1000, 5200));
  expect_segment(again, kSyn | kAck, synack.seq, 1001);
  EXPECT_EQ(again.option_kinds, synack.option_kinds);
  ASSERT_TRUE(again.timestamp && synack.timestamp);
  EXPECT_EQ(again.timestamp->value, synack.timestamp->value + 200);
  expect_counters({{"synack_retransmits", 1}, {"synacks_sent", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 1u);
}

TEST_P(EngineListen, SynReceivedSynWithAnotherSequenceGetsRstAndDropsRecord) {
  EndpointId listener = listen(kPort, 8);
  syn(peer_, kPort, linux_syn(1000));
  mark();
  send(peer_, kPort, linux_syn(1500));  // inside the window the SYN-ACK offered
  expect_reset(take_segment(), peer_, kPort, kRst | kAck, 0, 1501);
  expect_counters({{"resets_sent", 1}, {"attempt_fails", 1}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
}

TEST_P(EngineListen, SynReceivedOutOfWindowSegmentGetsAckWithTimestampsAndScaledWindow) {
  listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000, 5000));
  advance_by(milliseconds(30));
  send(peer_, kPort,
       {.flags = kAck,
        .seq = 1001 + 200000,
        .ack = synack.seq + 1,
        .timestamp = Timestamp{5030, 1}});
  SentSegment ack = take_segment();
  expect_segment(ack, kAck, synack.seq + 1, 1001);
  // RFC 7323 §3.2: once negotiated, every non-RST segment carries timestamps.
  ASSERT_TRUE(ack.timestamp);
  EXPECT_EQ(ack.timestamp->value, synack.timestamp->value + 30);
  EXPECT_EQ(ack.timestamp->echo, 5000u);
  // Not a SYN: the window is scaled by the shift our SYN-ACK announced (2 for 128 KiB).
  ASSERT_TRUE(synack.window_scale);
  EXPECT_EQ(ack.window, synack.window >> *synack.window_scale);
}

// ---- Rule 6: listener and closed-port rules ----

TEST_P(EngineListen, ListenerBareAckWithNoStateGetsRstWithSeqOfSegAck) {
  listen(kPort, 8);
  mark();
  send(peer_, kPort, {.flags = kAck, .seq = 5000, .ack = 777});
  expect_reset(take_segment(), peer_, kPort, kRst, 777, 0);
  expect_counters({{"resets_sent", 1}});
}

TEST_P(EngineListen, ListenerSynAckGetsRst) {
  listen(kPort, 8);
  mark();
  send(peer_, kPort, {.flags = kSyn | kAck, .seq = 5000, .ack = 888, .mss = 1460});
  expect_reset(take_segment(), peer_, kPort, kRst, 888, 0);
  expect_counters({{"resets_sent", 1}});
}

TEST_P(EngineListen, ListenerRstIsIgnored) {
  EndpointId listener = listen(kPort, 8);
  mark();
  send(peer_, kPort, {.flags = kRst, .seq = 5000});
  send(peer_, kPort, {.flags = kRst | kAck, .seq = 5000, .ack = 1});
  expect_nothing_sent();
  expect_counters({{"drop.listener_ignored", 2}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
}

TEST_P(EngineListen, ListenerSegmentWithoutSynAckOrRstIsIgnored) {
  EndpointId listener = listen(kPort, 8);
  mark();
  send(peer_, kPort, {.flags = kFin, .seq = 5000});
  send(peer_, kPort, {.flags = kPsh, .seq = 5000, .payload = Bytes(10, 'x')});
  send(peer_, kPort, {.flags = 0, .seq = 5000});
  send(peer_, kPort, {.flags = kSyn | kFin, .seq = 5000});  // Linux drops SYN+FIN too
  expect_nothing_sent();
  expect_counters({{"drop.listener_ignored", 4}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
}

TEST_P(EngineListen, SynToClosedPortGetsRstAck) {
  mark();
  send(peer_, kClosedPort, {.flags = kSyn, .seq = 1000});
  expect_reset(take_segment(), peer_, kClosedPort, kRst | kAck, 0, 1001);
  // SEG.LEN counts the payload, and the FIN.
  send(peer_, kClosedPort, {.flags = kSyn, .seq = 2000, .payload = Bytes(10, 'x')});
  expect_reset(take_segment(), peer_, kClosedPort, kRst | kAck, 0, 2011);
  send(peer_, kClosedPort, {.flags = kFin | kPsh, .seq = 3000, .payload = Bytes(5, 'x')});
  expect_reset(take_segment(), peer_, kClosedPort, kRst | kAck, 0, 3006);
  // With an ACK the reset takes its sequence number from it instead.
  send(peer_, kClosedPort, {.flags = kFin | kAck, .seq = 4000, .ack = 999});
  expect_reset(take_segment(), peer_, kClosedPort, kRst, 999, 0);
  // A reset is never answered.
  send(peer_, kClosedPort, {.flags = kRst, .seq = 5000});
  expect_nothing_sent();
  expect_counters({{"resets_sent", 4}, {"segments_received", 5}, {"segments_sent", 4}});
}

TEST_P(EngineListen, BadTcpChecksumIsDroppedAndCounted) {
  EndpointId listener = listen(kPort, 8);
  Bytes frame = tcp_frame(peer_, kPort, linux_syn(1000));
  frame[14 + ip_header_size() + 16] ^= 0x40;  // the TCP checksum
  mark();
  deliver(frame);
  expect_nothing_sent();
  expect_counters(
      {{"drop.bad_tcp_checksum", 1}, {"packets_received", 1}, {"segments_received", 0}});
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
}

// A frame the link vouches for (the kernel left its checksum partial) goes unchecked, whatever
// its checksum field holds.
TEST_P(EngineListen, AChecksumTheLinkVouchesForIsNotChecked) {
  EndpointId listener = listen(kPort, 8);
  Bytes frame = tcp_frame(peer_, kPort, linux_syn(1000));
  frame[14 + ip_header_size() + 16] ^= 0x40;  // the TCP checksum
  deliver(frame, RxChecksum::kVerified);
  SentSegment synack = take_segment();
  EXPECT_EQ(synack.flags, kSyn | kAck);
  EXPECT_EQ(listener_info(listener).syn_received, 1u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineListen);
INSTANTIATE_FOR_BOTH_FAMILIES(EngineCookies);

}  // namespace
}  // namespace tapstack::engine_test
