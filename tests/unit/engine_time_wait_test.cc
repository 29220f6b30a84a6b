// TIME-WAIT as hostile and busy peers meet it (issue 11, item 1): records of its own that never
// block new connections, their limit, RFC 1337, PAWS, bounded restarts, rate-limited answers,
// reuse by a new SYN, and the local port an active open keeps while it waits.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;

class EngineTimeWait : public EngineFamilyTest {
 protected:
  EngineTimeWait() { start(EngineConfig{}); }

  void start(const EngineConfig& config) {
    restart(config);
    attach(peer_);
    listener_ = listen(kPort, 64);
  }

  // A passive open from `port`, closed by us first and finished by the peer's FIN: the
  // server-closes-first pattern of HTTP/1.0. Returns our ISS.
  uint32_t serve_and_close(uint16_t port, uint32_t tsval = 7000) {
    Peer p = peer_;
    p.port = port;
    auto [id, synack] = open_passive(listener_, kPort, p, kIrs);
    uint32_t iss = synack.seq;
    EXPECT_TRUE(engine().close(id, false).is_ok());
    expect_segment(take_segment(), kFin | kAck, iss + 1, kIrs + 1);
    send(p, kPort, peer_segment(kFin | kAck, kIrs + 1, iss + 2, tsval));
    expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
    return iss;
  }

  static SegmentSpec peer_segment(uint8_t flags, uint32_t seq, uint32_t ack, uint32_t tsval) {
    return {
        .flags = flags, .seq = seq, .ack = ack, .window = 502, .timestamp = Timestamp{tsval, 0}};
  }

  Peer peer_;
  EndpointId listener_ = 0;
};

TEST_P(EngineTimeWait, ServerClosingFirstNeverRunsOutOfEndpoints) {
  EngineConfig config;
  config.max_endpoints = 4;  // the listener and three more
  start(config);
  for (uint16_t port = 40000; port < 40100; ++port) serve_and_close(port);
  EXPECT_EQ(engine().time_wait_count(), 100u);
  EXPECT_EQ(engine().endpoint_count(), 1u);
  EXPECT_EQ(stats().passive_opens.get(), 100u);
  EXPECT_EQ(stats().listen_drops.get(), 0u);
  EXPECT_EQ(stats().time_wait_overflows.get(), 0u);
}

TEST_P(EngineTimeWait, AFullTableClosesWithoutTimeWaitAndCountsIt) {
  EngineConfig config;
  config.max_time_wait = 2;
  start(config);
  for (uint16_t port = 40000; port < 40005; ++port) serve_and_close(port);
  EXPECT_EQ(engine().time_wait_count(), 2u);
  EXPECT_EQ(stats().time_wait_overflows.get(), 3u);
  EXPECT_EQ(stats().time_wait_entered.get(), 5u);
  EXPECT_EQ(engine().endpoint_count(), 1u);
}

TEST_P(EngineTimeWait, RstIsIgnoredAsRfc1337Asks) {
  uint32_t iss = serve_and_close(40000);
  mark();
  send(peer_, kPort, {.flags = kRst, .seq = kIrs + 2});  // exactly at RCV.NXT
  expect_nothing_sent();
  EXPECT_EQ(engine().time_wait_count(), 1u);
  expect_counters({{"drop.time_wait_rst", 1}});
  // Still answering: the peer's FIN again is acknowledged.
  advance_by(seconds(1));
  send(peer_, kPort, peer_segment(kFin | kAck, kIrs + 1, iss + 2, 7001));
  expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
}

TEST_P(EngineTimeWait, OutOfWindowFinGetsAnAckButDoesNotRestartTheWait) {
  uint32_t iss = serve_and_close(40000);
  Time entered = now();
  advance_by(seconds(30));
  send(peer_, kPort, peer_segment(kFin | kAck, kIrs + 500, iss + 2, 7001));
  expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
  advance_to(entered + seconds(60));
  EXPECT_EQ(engine().time_wait_count(), 0u);
}

TEST_P(EngineTimeWait, RetransmittedFinsCannotHoldTheRecordPastTwiceTheWait) {
  uint32_t iss = serve_and_close(40000);
  Time entered = now();
  // A FIN every 30 s: each would restart a 60 s wait, for ever.
  for (uint32_t tsval = 7001; tsval < 7004; ++tsval) {
    advance_by(seconds(30));
    send(peer_, kPort, peer_segment(kFin | kAck, kIrs + 1, iss + 2, tsval));
    expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
  }
  advance_to(entered + seconds(119));
  EXPECT_EQ(engine().time_wait_count(), 1u);
  advance_to(entered + seconds(120));
  EXPECT_EQ(engine().time_wait_count(), 0u);
}

TEST_P(EngineTimeWait, AnswersToUnacceptableSegmentsAreRateLimited) {
  uint32_t iss = serve_and_close(40000);
  mark();
  for (uint32_t i = 0; i < 10; ++i) {
    send(peer_, kPort, peer_segment(kAck, kIrs + 5000 + i, iss + 2, 7001 + i));
  }
  EXPECT_EQ(take_segments().size(), 1u);
  EXPECT_EQ(stats().oow_acks_limited.get(), 9u);
  advance_by(milliseconds(500));
  send(peer_, kPort, peer_segment(kAck, kIrs + 6000, iss + 2, 7100));
  expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
}

TEST_P(EngineTimeWait, PawsRejectsASynWithAnOlderTimestamp) {
  uint32_t iss = serve_and_close(40000, /*tsval=*/9000);
  mark();
  // A higher sequence number, but a timestamp from before the old connection's last segment:
  // an old duplicate (RFC 7323 §5), not a new connection.
  send(peer_, kPort, linux_syn(kIrs + 100000, 8000));
  expect_segment(take_segment(), kAck, iss + 2, kIrs + 2);
  EXPECT_EQ(engine().time_wait_count(), 1u);
  EXPECT_EQ(dropped(DropReason::paws_rejected), 1u);
}

TEST_P(EngineTimeWait, ANewerTimestampReopensEvenWithAnOlderSequence) {
  uint32_t iss = serve_and_close(40000, /*tsval=*/9000);
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs - 50000, 9500));
  expect_segment(synack, kSyn | kAck, iss + 2 + 65537, kIrs - 50000 + 1);
  EXPECT_EQ(engine().time_wait_count(), 0u);
  EXPECT_EQ(stats().time_wait_reused.get(), 1u);
}

TEST_P(EngineTimeWait, ReuseKeepsTheIsnAboveTheOldConnectionEvenWhenCookiesAreOn) {
  uint32_t iss = serve_and_close(40000, /*tsval=*/9000);
  TunableConfig t = engine().tunable();
  t.syncookies = tcp::SynCookieMode::kAlways;
  engine().update_tunable(t);
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs + 100000, 9500));
  expect_segment(synack, kSyn | kAck, iss + 2 + 65537, kIrs + 100001);
  EXPECT_EQ(stats().syncookies_sent.get(), 0u);
}

TEST_P(EngineTimeWait, ActiveOpenKeepsItsBoundPortUntilTheWaitEnds) {
  auto id = engine().create_endpoint();
  ASSERT_TRUE(id.is_ok());
  ASSERT_TRUE(engine().bind(*id, any_address(), 5000).is_ok());
  ASSERT_TRUE(engine().connect(*id, peer_.address(), peer_.port).is_ok());
  SentSegment our_syn = take_segment();
  send(peer_, 5000, linux_synack(7000, our_syn));
  take_segment();
  ASSERT_TRUE(engine().close(*id, false).is_ok());
  take_segment();  // our FIN
  send(peer_, 5000, peer_segment(kFin | kAck, 7001, our_syn.seq + 2, 9100));
  expect_segment(take_segment(), kAck, our_syn.seq + 2, 7002);
  ASSERT_EQ(engine().time_wait_count(), 1u);

  auto other = engine().create_endpoint();
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(engine().bind(*other, any_address(), 5000).code, ErrorCode::kAlreadyExists);
  advance_by(seconds(60));
  EXPECT_EQ(engine().time_wait_count(), 0u);
  EXPECT_TRUE(engine().bind(*other, any_address(), 5000).is_ok());
}

TEST_P(EngineTimeWait, ConnectDoesNotReuseATupleInTimeWait) {
  EngineConfig config;
  config.ephemeral_port_first = 50000;
  config.ephemeral_port_last = 50000;  // one port: the tuple is forced
  start(config);
  auto [id, our_syn] = open_active(peer_);
  ASSERT_TRUE(engine().close(id, false).is_ok());
  take_segment();
  send(peer_, 50000, peer_segment(kFin | kAck, 7001, our_syn.seq + 2, 9100));
  take_segment();
  ASSERT_EQ(engine().time_wait_count(), 1u);
  auto again = engine().create_endpoint();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(engine().connect(*again, peer_.address(), peer_.port).code,
            ErrorCode::kResourceExhausted);
  advance_by(seconds(60));
  EXPECT_TRUE(engine().connect(*again, peer_.address(), peer_.port).is_ok());
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineTimeWait);

}  // namespace
}  // namespace tapstack::engine_test
