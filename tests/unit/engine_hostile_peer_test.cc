// What a hostile peer or a careless caller must not be able to do to the engine (issue 11,
// items 2, 5, 6 and 7): corrupt port reservations, make us buffer data nobody reads, make us
// echo ACKs without limit, grow half-open state without a global bound, overflow the backoff
// with a tunable, or learn a secret from what we send.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;

class EngineHostilePeer : public EngineFamilyTest {
 protected:
  EngineHostilePeer() { attach(peer_); }

  // A fresh engine with one limit changed by `change`, the peer attached again.
  template <class Change>
  void restart_with(Change change) {
    EngineConfig config;
    change(config);
    restart(config);
    attach(peer_);
  }

  EndpointId bound_to(uint16_t port) {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(id.is_ok());
    EXPECT_TRUE(engine().bind(*id, any_address(), port).is_ok());
    return *id;
  }
  Status bind_new(uint16_t port) {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(id.is_ok());
    return engine().bind(*id, any_address(), port);
  }

  Peer peer_;
};

// ---- Item 2: one state per endpoint, ports held exactly once ----

TEST_P(EngineHostilePeer, ARefusedConnectKeepsItsBoundPortUntilClosed) {
  EndpointId a = bound_to(5000);
  ASSERT_TRUE(engine().connect(a, peer_.address(), peer_.port).is_ok());
  SentSegment our_syn = take_segment();
  send(peer_, 5000, {.flags = kRst | kAck, .seq = 0, .ack = our_syn.seq + 1});
  EXPECT_EQ(count_events(Event::Kind::kRefused, a), 1u);
  EXPECT_EQ(state_of(a), TcpState::kClosed);
  EXPECT_EQ(info(a).local_port, 5000);
  // Linux keeps a refused socket's port bound until it is closed; so do we.
  EXPECT_EQ(bind_new(5000).code, ErrorCode::kAlreadyExists);
  ASSERT_TRUE(engine().close(a, false).is_ok());
  EndpointId b = bound_to(5000);
  ASSERT_TRUE(engine().listen(b, 8).is_ok());
  // Closing A again (it is gone) and every later bind leave B's port alone.
  EXPECT_EQ(engine().close(a, false).code, ErrorCode::kNotFound);
  EXPECT_EQ(bind_new(5000).code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(state_of(b), TcpState::kListen);
}

TEST_P(EngineHostilePeer, AListenersPortIsFreeOnceItClosesAndNotBefore) {
  EndpointId l = bound_to(6000);
  ASSERT_TRUE(engine().listen(l, 8).is_ok());
  EXPECT_EQ(bind_new(6000).code, ErrorCode::kAlreadyExists);
  ASSERT_TRUE(engine().close(l, false).is_ok());
  EXPECT_TRUE(bind_new(6000).is_ok());
  EXPECT_EQ(bind_new(6000).code, ErrorCode::kAlreadyExists);
}

TEST_P(EngineHostilePeer, EphemeralPortsOfActiveOpensCannotBeBound) {
  auto [id, our_syn] = start_connect(peer_);
  EXPECT_EQ(bind_new(our_syn.source_port).code, ErrorCode::kAlreadyExists);
  ASSERT_TRUE(engine().close(id, false).is_ok());  // SYN-SENT is given up at once
  EXPECT_TRUE(bind_new(our_syn.source_port).is_ok());
}

TEST_P(EngineHostilePeer, StatesFollowWhatTheEndpointHolds) {
  auto id = engine().create_endpoint();
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(state_of(*id), TcpState::kInitial);
  ASSERT_TRUE(engine().bind(*id, any_address(), 7000).is_ok());
  EXPECT_EQ(state_of(*id), TcpState::kBound);
  ASSERT_TRUE(engine().listen(*id, 4).is_ok());
  EXPECT_EQ(state_of(*id), TcpState::kListen);
  EXPECT_EQ(engine().connect(*id, peer_.address(), 80).code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(engine().bind(*id, any_address(), 7001).code, ErrorCode::kFailedPrecondition);
}

// ---- Item 5: data after close ----

class EngineAfterClose : public EngineHostilePeer {
 protected:
  EngineAfterClose() {
    listener_ = listen(kPort, 8);
    auto [id, synack] = open_passive(listener_, kPort, peer_, kIrs);
    id_ = id;
    iss_ = synack.seq;
  }
  SegmentSpec from_peer(uint8_t flags, uint32_t seq, Bytes payload = {}) {
    return {.flags = flags,
            .seq = seq,
            .ack = iss_ + 1,
            .window = 502,
            .timestamp = Timestamp{tsval_++, 0},
            .payload = std::move(payload)};
  }

  EndpointId listener_ = 0;
  EndpointId id_ = 0;
  uint32_t iss_ = 0;
  uint32_t tsval_ = 7000;
};

TEST_P(EngineAfterClose, DataAfterCloseIsAnsweredWithRstAndNotBuffered) {
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  expect_segment(take_segment(), kFin | kAck, iss_ + 1, kIrs + 1);
  mark();
  send(peer_, kPort, from_peer(kAck | kPsh, kIrs + 1, Bytes(1000, 'x')));
  expect_segment(take_segment(), kRst | kAck, iss_ + 2, kIrs + 1);
  EXPECT_EQ(engine().endpoint_count(), 1u);  // the listener only
  expect_counters({{"aborts_on_data", 1},
                   {"connections_closed", 1},
                   {"resets_sent", 1},
                   {"segments_received", 1},
                   {"segments_sent", 1}});
}

TEST_P(EngineAfterClose, APeerFinWithoutDataStillClosesGracefully) {
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  take_segment();
  send(peer_, kPort, from_peer(kFin | kAck, kIrs + 1));
  // Our FIN is not acknowledged by it (ack = iss + 1): CLOSING, not a reset.
  expect_segment(take_segment(), kAck, iss_ + 2, kIrs + 2);
  EXPECT_EQ(stats().aborts_on_data.get(), 0u);
}

// ---- Item 7: ACKs to unacceptable segments, PAWS ----

TEST_P(EngineAfterClose, AcksToOutOfWindowAcksAreRateLimitedButDataIsAlwaysAnswered) {
  mark();
  for (uint32_t i = 0; i < 5; ++i) send(peer_, kPort, from_peer(kAck, kIrs + 900000 + i));
  EXPECT_EQ(take_segments().size(), 1u);
  EXPECT_EQ(stats().oow_acks_limited.get(), 4u);
  // Old data may mean our ACK was lost: it is always acknowledged.
  for (uint32_t i = 0; i < 3; ++i)
    send(peer_, kPort, from_peer(kAck | kPsh, kIrs - 100, Bytes(10)));
  EXPECT_EQ(take_segments().size(), 3u);
}

TEST_P(EngineAfterClose, AcksOfDataNeverSentGetRateLimitedChallengeAcks) {
  mark();
  for (int i = 0; i < 3; ++i) {
    SegmentSpec s = from_peer(kAck, kIrs + 1);
    s.ack = iss_ + 100000;  // beyond SND.NXT
    send(peer_, kPort, s);
  }
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 1);
  EXPECT_EQ(stats().challenge_acks_sent.get(), 1u);
  EXPECT_EQ(dropped(DropReason::challenge_ack_limited), 2u);
}

TEST_P(EngineAfterClose, AForgedAckBeyondSndNxtCannotPoisonPaws) {
  SegmentSpec forged = from_peer(kAck, kIrs + 1);
  forged.ack = iss_ + 100000;
  forged.timestamp->value = 0x7fffffff;  // far in the peer's future
  send(peer_, kPort, forged);
  take_frames();
  send(peer_, kPort, from_peer(kAck | kPsh, kIrs + 1, Bytes(10, 'a')));
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 11);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 10u);
  EXPECT_EQ(dropped(DropReason::paws_rejected), 0u);
}

TEST_P(EngineAfterClose, PawsDropsASegmentWithAnOlderTimestamp) {
  send(peer_, kPort, from_peer(kAck | kPsh, kIrs + 1, Bytes(10, 'a')));
  take_segment();
  mark();
  SegmentSpec old = from_peer(kAck | kPsh, kIrs + 11, Bytes(10, 'b'));
  old.timestamp->value = 100;  // before everything the peer sent
  send(peer_, kPort, old);
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 11);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 10u);
  EXPECT_EQ(dropped(DropReason::paws_rejected), 1u);
  // After 24 days of silence, the remembered timestamp no longer counts (RFC 7323 §5.5).
  advance_by(seconds(25 * 24 * 3600));
  take_frames();
  send(peer_, kPort, old);
  expect_segment(take_segment(), kAck, iss_ + 1, kIrs + 21);
  EXPECT_EQ(connection_info(id_).bytes_buffered, 20u);
}

// ---- Item 7: a global bound on half-open records ----

TEST_P(EngineHostilePeer, HalfOpenRecordsAreBoundedOverAllListeners) {
  restart_with([](EngineConfig& c) { c.max_half_open = 3; });
  EndpointId a = listen(80, 100);
  EndpointId b = listen(81, 100);
  Peer p = peer_;
  for (uint16_t i = 0; i < 3; ++i) {
    p.port = static_cast<uint16_t>(41000 + i);
    syn(p, i == 0 ? 80 : 81, linux_syn(kIrs));
  }
  EXPECT_EQ(engine().half_open_count(), 3u);
  mark();
  p.port = 41100;
  SentSegment cookie = syn(p, 80, linux_syn(kIrs));
  expect_segment(cookie, kSyn | kAck, cookie.seq, kIrs + 1);
  EXPECT_EQ(engine().half_open_count(), 3u);
  expect_counters({{"syns_received", 1},
                   {"syn_queue_full", 1},
                   {"half_open_table_full", 1},
                   {"syncookies_sent", 1},
                   {"synacks_sent", 1},
                   {"segments_sent", 1},
                   {"segments_received", 1}});
  // The cookie completes the connection as any other.
  send(p, 80, final_ack(cookie));
  EXPECT_TRUE(engine().accept(a).is_ok());
  EXPECT_EQ(listener_info(b).syn_received, 2u);
}

TEST_P(EngineHostilePeer, AFullEndpointTableDropsTheFinalAckUnderItsOwnReason) {
  restart_with([](EngineConfig& c) { c.max_endpoints = 1; });  // the listener alone
  listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs));
  mark();
  send(peer_, kPort, final_ack(synack));
  expect_nothing_sent();
  EXPECT_EQ(dropped(DropReason::endpoint_table_full), 1u);
  EXPECT_EQ(dropped(DropReason::accept_queue_full), 0u);
}

// ---- Closed connections a silent peer holds (orphans) ----

TEST_P(EngineHostilePeer, SilentPeersAfterOurCloseNeverBlockNewConnections) {
  restart_with([](EngineConfig& c) { c.max_endpoints = 2; });  // the listener and one connection
  EndpointId l = listen(kPort, 8);
  Peer p = peer_;
  for (uint16_t port = 42000; port < 42010; ++port) {
    p.port = port;
    auto [id, synack] = open_passive(l, kPort, p, kIrs);
    ASSERT_TRUE(engine().close(id, false).is_ok());
    take_frames();  // our FIN, never acknowledged: the peer is silent
  }
  EXPECT_EQ(engine().orphan_count(), 10u);
  EXPECT_EQ(engine().endpoint_count(), 1u);
  EXPECT_EQ(stats().listen_drops.get(), 0u);
}

TEST_P(EngineHostilePeer, BeyondMaxOrphansACloseResets) {
  restart_with([](EngineConfig& c) { c.max_orphans = 1; });
  EndpointId l = listen(kPort, 8);
  Peer p = peer_;
  p.port = 42000;
  auto first = open_passive(l, kPort, p, kIrs);
  ASSERT_TRUE(engine().close(first.first, false).is_ok());
  expect_segment(take_segment(), kFin | kAck, first.second.seq + 1, kIrs + 1);
  p.port = 42001;
  auto second = open_passive(l, kPort, p, kIrs);
  ASSERT_TRUE(engine().close(second.first, false).is_ok());
  expect_segment(take_segment(), kRst | kAck, second.second.seq + 1, kIrs + 1);
  EXPECT_EQ(stats().orphan_overflows.get(), 1u);
  EXPECT_EQ(engine().orphan_count(), 1u);
}

// ---- Item 7: tunables cannot overflow the backoff ----

TEST_P(EngineHostilePeer, HugeRetryTunablesBackOffToTwoMinutesAndNoFurther) {
  TunableConfig t = engine().tunable();
  t.synack_retries = 1000;
  t.syn_retries = 1000;
  engine().update_tunable(t);
  listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(kIrs));
  Time last = now();
  // 1, 2, 4, ... 64 s, then every 120 s (Linux's TCP_RTO_MAX), for as long as it tries.
  for (int i = 0; i < 12; ++i) {
    Duration expected = std::min<Duration>(seconds(int64_t{1} << i), seconds(120));
    SentSegment again = expect_segment_at(last + expected);
    expect_segment(again, kSyn | kAck, synack.seq, kIrs + 1);
    last = now();
  }
}

// ---- Item 6: secrets ----

TEST(KeySource, SeededKeysAreReproducibleAndDistinct) {
  auto a = tcp::KeySource::seeded(1);
  auto b = tcp::KeySource::seeded(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    uint64_t v = a.next_u64();
    EXPECT_EQ(v, b.next_u64());
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_NE(tcp::KeySource::seeded(2).next_u64(), tcp::KeySource::seeded(1).next_u64());
}

TEST(KeySource, KeyedCopiesGiveEveryLoopTheSameKeysAndOtherKeysDiffer) {
  // The daemon's loops (--queues) get copies of one keyed source: one ISN key and one cookie
  // secret for the stack, however many loops.
  auto shared = tcp::KeySource::keyed({0x1234, 0x5678});
  auto loop0 = shared;
  auto loop1 = shared;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(loop0.next_key(), loop1.next_key());
  EXPECT_NE(tcp::KeySource::keyed({0x1234, 0x5679}).next_key(),
            tcp::KeySource::keyed({0x1234, 0x5678}).next_key());
}

TEST(KeySource, SystemKeysComeFromTheKernelAndDiffer) {
  auto a = tcp::KeySource::system();
  auto b = tcp::KeySource::system();
  EXPECT_NE(a.next_key(), b.next_key());
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineHostilePeer);
INSTANTIATE_FOR_BOTH_FAMILIES(EngineAfterClose);

}  // namespace
}  // namespace tapstack::engine_test
