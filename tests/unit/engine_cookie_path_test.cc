// The engine's side of the kernel cookie path (stack/tcp/cookie_path.h), against plain memory in
// place of the BPF maps: what it publishes (identity, secrets, listener modes, full accept
// queues, live-tuple counts) and the cookie mode that decides which listeners the program
// answers for. The program itself is tested against this engine in
// tests/integration/cookie_path_program_test.cc.
#include <gtest/gtest.h>

#include "tests/unit/cookie_path_memory.h"
#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;

class EngineCookiePath : public EngineTest {
 protected:
  EngineCookiePath() {
    attach(peer_);
    engine().attach_cookie_path(shared_.memory());
  }
  Peer client(uint16_t port) const {
    Peer p = peer_;
    p.port = port;
    return p;
  }
  const cookie_path_listener& slot(uint16_t port) const { return shared_.listeners[port]; }
  // What the engine holds on tuples, which the live counts must add up to.
  uint64_t records() {
    return engine().half_open_count() + engine().time_wait_count() +
           engine().count_by_state()[static_cast<size_t>(TcpState::kEstablished)] +
           engine().count_by_state()[static_cast<size_t>(TcpState::kFinWait1)] +
           engine().count_by_state()[static_cast<size_t>(TcpState::kFinWait2)];
  }
  void set_syncookies(tcp::SynCookieMode mode) {
    TunableConfig t = engine().tunable();
    t.syncookies = mode;
    engine().update_tunable(t);
  }

  Peer peer_;
  SharedMemory shared_;
};

TEST_F(EngineCookiePath, AttachPublishesWhatTheProgramBuildsSynAcksFrom) {
  const cookie_path_config& c = shared_.config;
  EXPECT_EQ(c.ready, 1u);
  EXPECT_EQ(c.address, to_engine(kOurIp).value);
  EXPECT_EQ(c.netmask, 0xffffff00u);  // 198.18.0.2/24
  EXPECT_EQ(MacAddress::from(c.mac).to_string(), kOurMac.to_string());
  EngineConfig defaults;
  EXPECT_EQ(c.mss, defaults.mtu - 40);
  EXPECT_EQ(c.syn_window, std::min<size_t>(defaults.receive_buffer, 0xffff));
  EXPECT_EQ(c.previous_valid_until, 0u);  // no rotation yet
  EXPECT_NE(c.secrets[c.current].h0[0], 0u);

  // The SYN-ACK's options come from the same numbers.
  listen(kPort, 8);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000));
  EXPECT_EQ(synack.mss, c.mss);
  EXPECT_EQ(synack.window, c.syn_window);
  EXPECT_EQ(synack.window_scale, c.window_scale);
}

TEST_F(EngineCookiePath, RotationWritesTheNewSecretBesideTheOldAndSwitches) {
  cookie_path_secret before = shared_.config.secrets[shared_.config.current];
  uint32_t current = shared_.config.current;
  advance_by(seconds(5));
  engine().rotate_cookie_secret();
  const cookie_path_config& c = shared_.config;
  EXPECT_EQ(c.current, current ^ 1);
  // The old secret still checks cookies for two minutes, as SynCookies keeps it.
  EXPECT_EQ(c.secrets[c.current ^ 1].h0[0], before.h0[0]);
  EXPECT_EQ(c.secrets[c.current ^ 1].h1[1], before.h1[1]);
  EXPECT_NE(c.secrets[c.current].h0[0], before.h0[0]);
  EXPECT_EQ(c.previous_valid_until,
            static_cast<uint64_t>((now() + std::chrono::minutes(2)).count()));
}

TEST_F(EngineCookiePath, LiveCountsFollowEveryRecordOfTheEngine) {
  EndpointId listener = listen(kPort, 8);
  EXPECT_EQ(shared_.live_total(), 0u);

  SentSegment synack = syn(peer_, kPort, linux_syn(1000));  // a half-open record
  EXPECT_EQ(shared_.live_at(peer_, kPort), 1u);
  EXPECT_EQ(shared_.live_total(), records());

  send(peer_, kPort, final_ack(synack));  // the record becomes a connection
  EXPECT_EQ(shared_.live_at(peer_, kPort), 1u);
  EXPECT_EQ(shared_.live_total(), 1u);

  auto id = engine().accept(listener);
  ASSERT_TRUE(id.is_ok());
  ASSERT_TRUE(engine().close(*id, false).is_ok());  // FIN-WAIT-1: an orphan, still live
  SentSegment fin = take_segment();
  EXPECT_EQ(shared_.live_total(), 1u);
  // The peer acknowledges and closes: TIME-WAIT, a record of its own.
  send(peer_, kPort,
       {.flags = kFin | kAck,
        .seq = fin.ack,
        .ack = fin.seq + 1,
        .window = 502,
        .timestamp = Timestamp{6001, fin.timestamp->value}});
  take_segment();
  EXPECT_EQ(engine().time_wait_count(), 1u);
  EXPECT_EQ(shared_.live_at(peer_, kPort), 1u);
  EXPECT_EQ(shared_.live_total(), 1u);

  advance_by(std::chrono::minutes(2));  // the wait ends
  EXPECT_EQ(engine().time_wait_count(), 0u);
  EXPECT_EQ(shared_.live_total(), 0u);

  // Half-open records that time out, and an active open, count the same way.
  syn(client(2), kPort, linux_syn(2000));
  auto active = engine().create_endpoint();
  ASSERT_TRUE(active.is_ok());
  ASSERT_TRUE(engine().connect(*active, peer_.address(), 9000).is_ok());
  take_segment();
  EXPECT_EQ(shared_.live_total(), 2u);
  ASSERT_TRUE(engine().close(*active, true).is_ok());
  take_frames();
  for (int i = 0; i < 30; ++i) advance_by(seconds(10));  // the SYN-ACK retransmissions run out
  take_frames();
  EXPECT_EQ(engine().half_open_count(), 0u);
  EXPECT_EQ(shared_.live_total(), 0u);
}

TEST_F(EngineCookiePath, ListenerIsInCookieModeWhileItsSynReceivedTableIsFull) {
  EndpointId listener = listen(kPort, 8, 2);
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
  syn(client(1), kPort, linux_syn(1000));
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
  mark();
  syn(client(2), kPort, linux_syn(2000));  // fills the SYN-RCVD table: Linux's rule
  expect_counters({{"syns_received", 1}, {"synacks_sent", 1}, {"cookie_mode_entered", 1}});
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_ON);

  // The few SYNs that still reach the engine get cookies, as without the program.
  mark();
  SentSegment cookie = syn(client(3), kPort, linux_syn(3000));
  expect_counters(
      {{"syns_received", 1}, {"syn_queue_full", 1}, {"syncookies_sent", 1}, {"synacks_sent", 1}});

  // A record that goes (here a RST; a completed handshake or a timeout alike) ends the mode,
  // and the next SYN makes a half-open record again.
  mark();
  send(client(1), kPort, {.flags = kRst, .seq = 1001});
  expect_counters({{"resets_received", 1}, {"attempt_fails", 1}, {"cookie_mode_left", 1}});
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);

  // A cookie sent while the mode was on (by the program, or here) is good for its lifetime.
  advance_by(seconds(30));
  take_frames();  // client 2's SYN-ACK retransmissions
  mark();
  send(client(3), kPort, final_ack(cookie));
  expect_nothing_sent();
  expect_counters({{"syncookies_validated", 1}, {"passive_opens", 1}});
  syn(client(4), kPort, linux_syn(4000));
  EXPECT_EQ(listener_info(listener).syn_received, 2u);
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_ON);
}

TEST_F(EngineCookiePath, TheTableOfAllHalfOpenRecordsFillingPutsEveryListenerInCookieMode) {
  EngineConfig config;
  config.max_half_open = 2;
  restart(config);
  attach(peer_);
  engine().attach_cookie_path(shared_.memory());
  listen(kPort, 8);
  listen(kPort + 1, 8);
  syn(client(1), kPort, linux_syn(1000));
  EXPECT_EQ(slot(kPort + 1).mode, COOKIE_PATH_OFF);
  syn(client(2), kPort, linux_syn(2000));
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_ON);
  EXPECT_EQ(slot(kPort + 1).mode, COOKIE_PATH_ON);
  send(client(2), kPort, {.flags = kRst, .seq = 2001});
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
  EXPECT_EQ(slot(kPort + 1).mode, COOKIE_PATH_OFF);
}

TEST_F(EngineCookiePath, AlwaysPutsEveryListenerInCookieModeAndNeverNone) {
  listen(kPort, 8);
  listen(kPort + 1, 8);
  set_syncookies(tcp::SynCookieMode::kAlways);
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_ON);
  EXPECT_EQ(slot(kPort + 1).mode, COOKIE_PATH_ON);
  set_syncookies(tcp::SynCookieMode::kNever);
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
  EXPECT_EQ(slot(kPort + 1).mode, COOKIE_PATH_OFF);
}

TEST_F(EngineCookiePath, FullAcceptQueueIsPublishedAndClosingTheListenerTurnsItsPortOff) {
  set_syncookies(tcp::SynCookieMode::kAlways);
  EndpointId listener = listen(kPort, 1);
  EXPECT_EQ(slot(kPort).accept_queue_full, 0u);
  SentSegment synack = syn(peer_, kPort, linux_syn(1000));
  send(peer_, kPort, final_ack(synack));
  EXPECT_EQ(slot(kPort).accept_queue_full, 1u);
  auto id = engine().accept(listener);
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(slot(kPort).accept_queue_full, 0u);

  ASSERT_TRUE(engine().close(listener, false).is_ok());
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
}

TEST_F(EngineCookiePath, ListenersPublishWhetherTheirPortListensAndUntilWhenAcksAreCookies) {
  EXPECT_EQ(slot(kPort).listening, 0u);  // no listener: the program answers with RST
  EndpointId listener = listen(kPort, 8, 1);
  EXPECT_EQ(slot(kPort).listening, 1u);
  EXPECT_EQ(slot(kPort).cookies_checkable_until, 0u);  // auto, and no cookie sent yet

  syn(client(1), kPort, linux_syn(1000));
  syn(client(2), kPort, linux_syn(2000));  // a cookie: ACKs are cookies for two minutes
  send(client(1), kPort, {.flags = kRst, .seq = 1001});
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
  EXPECT_EQ(slot(kPort).cookies_checkable_until,
            static_cast<uint64_t>((now() + std::chrono::minutes(2)).count()));

  set_syncookies(tcp::SynCookieMode::kNever);
  EXPECT_EQ(slot(kPort).cookies_checkable_until, 0u);
  set_syncookies(tcp::SynCookieMode::kAlways);
  EXPECT_EQ(slot(kPort).cookies_checkable_until, ~uint64_t{0});

  ASSERT_TRUE(engine().close(listener, false).is_ok());
  EXPECT_EQ(slot(kPort).listening, 0u);
  EXPECT_EQ(slot(kPort).mode, COOKIE_PATH_OFF);
}

TEST_F(EngineCookiePath, EverySegmentCarriesIpId0SoTheProgramNeedsNoCounter) {
  set_syncookies(tcp::SynCookieMode::kAlways);
  listen(kPort, 8);
  for (uint16_t port : {1, 2, 3}) {
    send(client(port), kPort, linux_syn(1000));
    for (const Bytes& frame : take_frames()) {
      Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
      EXPECT_EQ(eth.rfind_pdu<Tins::IP>().id(), 0);
    }
  }
}

TEST_F(EngineCookiePath, DestroyingTheEngineTellsTheProgramToPassEverything) {
  listen(kPort, 8);
  restart(EngineConfig{});
  EXPECT_EQ(shared_.config.ready, 0u);
}

}  // namespace
}  // namespace tapstack::engine_test
