// The options a user sets per connection (issue 14): no-delay (Nagle off, and turning it on
// pushes what Nagle held), the user timeout (data, a FIN or a shut window unanswered too long
// ends the connection TIMED_OUT; it replaces data_retries and keepalive's count, as in Linux),
// how the options reach connections (a listener's, an unconnected endpoint's), their statuses,
// and the connection figures events carry when the handler wants them.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "tests/unit/engine_data_fixture.h"

namespace tapstack::engine_test {
namespace {

OptionsChange no_delay(bool on) {
  return {.no_delay = on, .user_timeout = std::nullopt};
}
OptionsChange user_timeout(Duration d) {
  return {.no_delay = std::nullopt, .user_timeout = d};
}

class EngineSocketOptions : public EngineData {
 protected:
  void set(EndpointId id, const OptionsChange& change) {
    Status s = engine().set_options(id, change);
    ASSERT_TRUE(s.is_ok()) << s.message;
  }
};

// ---- No-delay ----

TEST_F(EngineSocketOptions, WithoutNoDelayASmallWriteWaitsWhileDataIsInFlight) {
  write(data(100));
  expect_data(one(), 0, 100, kAck | kPsh);
  write(data(50));
  expect_nothing_sent();
}

TEST_F(EngineSocketOptions, WithNoDelayASmallWriteGoesWhileDataIsInFlight) {
  set(id_, no_delay(true));
  write(data(100));
  expect_data(one(), 0, 100, kAck | kPsh);
  write(data(50));
  expect_data(one(), 100, 50, kAck | kPsh);
  EXPECT_TRUE(info(id_).options.no_delay);
}

TEST_F(EngineSocketOptions, TurningNoDelayOnPushesTheTailNagleHeld) {
  write(data(100));
  expect_data(one(), 0, 100, kAck | kPsh);
  write(data(50));
  expect_nothing_sent();
  set(id_, no_delay(true));
  expect_data(one(), 100, 50, kAck | kPsh);
}

TEST_F(EngineSocketOptions, SettingOnlyTheUserTimeoutLeavesNoDelayAsItWas) {
  set(id_, no_delay(true));
  set(id_, user_timeout(seconds(5)));
  EXPECT_EQ(info(id_).options, (ConnectionOptions{.no_delay = true, .user_timeout = seconds(5)}));
  set(id_, no_delay(false));
  EXPECT_EQ(info(id_).options, (ConnectionOptions{.no_delay = false, .user_timeout = seconds(5)}));
}

// ---- User timeout ----

TEST_F(EngineSocketOptions, UnacknowledgedDataEndsTheConnectionAtTheUserTimeout) {
  set(id_, user_timeout(5 * kFirstRto));
  // The loss probe at 1 RTO (in the RTO's place), retransmissions at 2 and 4; the one due at 8
  // is brought forward to the timeout, 5 RTOs after the data was sent, long before
  // data_retries (15) would give up.
  expect_unanswered_write({1, 2, 4}, 5);
}

TEST_F(EngineSocketOptions, AnUnacknowledgedFinEndsTheConnectionAtTheUserTimeout) {
  set(id_, user_timeout(5 * kFirstRto));
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  expect_segment(one(), kAck | kFin, at(0), peer_seq_);
  ASSERT_EQ(run_timers_until(kStart + 4 * kFirstRto).size(), 3u);  // at 1 (probe), 2 and 4
  advance_to(kStart + 5 * kFirstRto);
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
  EXPECT_EQ(state_of(id_), TcpState::kClosed);
}

TEST_F(EngineSocketOptions, AUserTimeoutLongerThanDataRetriesKeepsRetrying) {
  EngineConfig config;
  config.data_retries = 3;  // alone, it gives up at 16 RTOs
  reopen(config);
  set(id_, user_timeout(60 * kFirstRto));
  // The probe at 1 RTO, retransmissions at 2, 4, 8, 16 and 32; the next (64) comes at 60.
  expect_unanswered_write({1, 2, 4, 8, 16, 32}, 60);
}

TEST_F(EngineSocketOptions, TheClockStartsAgainAfterAnAckOfNewData) {
  set(id_, user_timeout(5 * kFirstRto));
  write(data(100));
  out();
  ASSERT_EQ(run_timers_until(kStart + 2 * kFirstRto).size(), 2u);  // at 1 (probe) and 2 RTOs
  // Echoes the retransmission of 2 RTOs at once: an RTT of one tick, the RTO still the floor.
  peer_acks(100);
  write(data(100));
  expect_data(one(), 100, 100, kAck | kPsh);
  // The new data went at 2 RTOs: its probe at 3, its expiries at 4 and 6, then the timeout 5
  // RTOs after it was sent, at 7 (not 5 RTOs after the first data was, at 5).
  auto sent = run_timers_until(kStart + 6 * kFirstRto);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].first, kStart + 3 * kFirstRto);
  EXPECT_EQ(sent[1].first, kStart + 4 * kFirstRto);
  EXPECT_EQ(sent[2].first, kStart + 6 * kFirstRto);
  expect_timed_out_at(kStart + 7 * kFirstRto);
}

TEST_F(EngineSocketOptions, APeerThatAcknowledgesNeverTripsIt) {
  set(id_, user_timeout(seconds(2)));
  set(id_, no_delay(true));
  // 30 s in all, each write acknowledged after 100 ms: inside the RTO, never below 200 ms.
  for (size_t i = 0; i < 30; ++i) {
    write(data(100));
    expect_data(one(), 100 * i, 100, kAck | kPsh);
    advance_by(milliseconds(100));
    peer_acks(100 * (i + 1));
    advance_by(milliseconds(900));
  }
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 0u);
  EXPECT_EQ(connection_info(id_).segments_retransmitted, 0u);
}

TEST_F(EngineSocketOptions, ZeroWindowProbingPastTheUserTimeoutEndsTheConnection) {
  set(id_, user_timeout(10 * kFirstRto));
  peer_acks(0, 0);
  write(data(100));
  expect_nothing_sent();
  // Probes at 1, 3 and 7 RTOs, each answered with the window still shut: the peer is alive, but
  // the data cannot go. The clock runs from the first probe: the end comes at 11 RTOs, before
  // the probe due at 15.
  Duration interval = kFirstRto;
  for (int i = 0; i < 3; ++i) {
    SentSegment probe = one_at(now() + interval);
    expect_segment(probe, kAck, at(0) - 1, peer_seq_);
    peer_acks(0, 0);
    interval *= 2;
  }
  expect_timed_out_at(kStart + 11 * kFirstRto);
}

TEST_F(EngineSocketOptions, AZeroWindowThatOpensStopsTheClock) {
  set(id_, user_timeout(4 * kFirstRto));
  peer_acks(0, 0);
  write(data(100));
  expect_segment(one_at(kStart + kFirstRto), kAck, at(0) - 1, peer_seq_);
  expect_segment(one_at(kStart + 3 * kFirstRto), kAck, at(0) - 1, peer_seq_);
  peer_acks(0);  // the window opens at 3 RTOs: the data goes, and its own wait begins
  expect_data(one(), 0, 100, kAck | kPsh);
  // Lost: the loss probe at 4 RTOs, the retransmission at 5, and given up 4 RTOs after it was
  // sent (at 7), not 4 after the first window probe (at 5).
  auto sent = run_timers_until(kStart + 6 * kFirstRto);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].first, kStart + 4 * kFirstRto);
  EXPECT_EQ(sent[1].first, kStart + 5 * kFirstRto);
  expect_timed_out_at(kStart + 7 * kFirstRto);
}

TEST_F(EngineSocketOptions, ZeroTurnsTheUserTimeoutOff) {
  EngineConfig config;
  config.data_retries = 3;
  reopen(config);
  set(id_, user_timeout(5 * kFirstRto));  // alone, it would end the connection at 5 RTOs
  set(id_, user_timeout(Duration::zero()));
  // The probe at 1 RTO, retransmissions at 2, 4 and 8; data_retries' end at 16, as without one.
  expect_unanswered_write({1, 2, 4, 8}, 16);
}

// ---- Keepalive and the user timeout ----

class EngineSocketOptionsKeepalive : public EngineSocketOptions {
 protected:
  const Keepalive kFast{.idle = seconds(10), .interval = seconds(2), .count = 3};
  void expect_probe_at(Time t) { expect_segment(one_at(t), kAck, at(0) - 1, peer_seq_); }
};

TEST_F(EngineSocketOptionsKeepalive, ALongerUserTimeoutKeepsProbingPastTheCount) {
  Time opened = now();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  set(id_, user_timeout(seconds(30)));
  // Probes every 2 s from 10 s; the count (3) would reset at 16 s, the user timeout at 30 s.
  for (int s = 10; s < 30; s += 2) expect_probe_at(opened + seconds(s));
  SentSegment rst = one_at(opened + seconds(30));
  expect_segment(rst, kRst | kAck, at(0), peer_seq_);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
  EXPECT_EQ(state_of(id_), TcpState::kClosed);
}

TEST_F(EngineSocketOptionsKeepalive, AShorterUserTimeoutResetsBeforeTheCount) {
  Time opened = now();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  set(id_, user_timeout(seconds(11)));
  expect_probe_at(opened + seconds(10));
  // At the next probe time the peer has been silent 12 s, past the user timeout.
  SentSegment rst = one_at(opened + seconds(12));
  expect_segment(rst, kRst | kAck, at(0), peer_seq_);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
}

// ---- Where the options apply ----

TEST_F(EngineSocketOptions, AListenersOptionsAreInheritedByItsConnections) {
  const OptionsChange both{.no_delay = true, .user_timeout = milliseconds(2500)};
  set(listener_, both);
  const ConnectionOptions expected{.no_delay = true, .user_timeout = milliseconds(2500)};
  EXPECT_EQ(info(listener_).options, expected);
  EXPECT_EQ(info(id_).options, ConnectionOptions{}) << "an earlier connection keeps its own";
  Peer other = peer_;
  other.port = 40001;
  auto [id, synack] = open_passive(listener_, kPort, other, 5000);
  EXPECT_EQ(info(id).options, expected);
}

TEST_F(EngineSocketOptions, AnUnconnectedEndpointsOptionsGoWithItsConnection) {
  auto id = engine().create_endpoint();
  ASSERT_TRUE(id.is_ok());
  set(*id, no_delay(true));
  Peer server = peer_;
  server.port = 8080;
  ASSERT_TRUE(engine().connect(*id, server.address(), server.port).is_ok());
  take_segment();
  EXPECT_TRUE(info(*id).options.no_delay);
}

TEST_F(EngineSocketOptions, Statuses) {
  EXPECT_EQ(engine().set_options(987654, no_delay(true)).code, ErrorCode::kNotFound);
  EXPECT_EQ(engine().set_options(id_, {}).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_options(id_, user_timeout(milliseconds(-1))).code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_options(id_, user_timeout(kMaxUserTimeout + milliseconds(1))).code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(engine().set_options(id_, user_timeout(kMaxUserTimeout)).is_ok());
  EXPECT_EQ(info(id_).options.user_timeout, kMaxUserTimeout);
}

// ---- Figures on events ----

class EngineEventFigures : public EngineSocketOptions {
 protected:
  // Records every event with a copy of its figures, asking `wanted` whether to have them.
  void record(std::function<bool(EndpointId)> wanted) {
    engine().set_event_handler(
        [this](const Event& e) {
          kinds_.push_back(e.kind);
          figures_.push_back(e.connection ? std::optional{*e.connection} : std::nullopt);
        },
        std::move(wanted));
  }
  std::vector<Event::Kind> kinds_;
  std::vector<std::optional<ConnectionInfo>> figures_;
};

TEST_F(EngineEventFigures, TheLastEventsOfAClosedConnectionCarryItsFinalFigures) {
  size_t asked = 0;
  record([&](EndpointId id) {
    ++asked;
    return id == id_;
  });
  write(data(300));
  out();
  peer_sends(from_peer(300, kWindowField, data(40)));
  out();
  read(40);
  ASSERT_TRUE(engine().close(id_, true).is_ok());  // RST: no state change, only the release
  ASSERT_FALSE(kinds_.empty());
  EXPECT_EQ(kinds_.back(), Event::Kind::kReleased);
  ASSERT_TRUE(figures_.back());
  EXPECT_EQ(figures_.back()->bytes_acked, 300u);
  EXPECT_EQ(figures_.back()->bytes_received, 40u);
  EXPECT_GT(figures_.back()->cwnd, 0u);
  EXPECT_GT(asked, 0u);
}

TEST_F(EngineEventFigures, ATimedOutConnectionsEventCarriesItsRetransmissions) {
  record([](EndpointId) { return true; });
  set(id_, user_timeout(5 * kFirstRto));
  write(data(100));
  out();
  run_timers_until(kStart + 5 * kFirstRto);  // the probe at 1 RTO, the RTO at 2 and 4, the end at 5
  auto it = std::find(kinds_.begin(), kinds_.end(), Event::Kind::kTimedOut);
  ASSERT_NE(it, kinds_.end());
  const auto& figures = figures_[static_cast<size_t>(it - kinds_.begin())];
  ASSERT_TRUE(figures);
  EXPECT_EQ(figures->segments_retransmitted, 3u);
  EXPECT_EQ(figures->bytes_in_flight, 100u);
}

TEST_F(EngineEventFigures, NoFiguresAreMadeForEventsNobodyWants) {
  record([](EndpointId) { return false; });
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  ASSERT_FALSE(kinds_.empty());  // FIN-WAIT-1
  for (const auto& f : figures_) EXPECT_FALSE(f);
  // Readable and writable events never ask: they come with nearly every segment.
  kinds_.clear();
  size_t asked = 0;
  record([&](EndpointId) {
    ++asked;
    return true;
  });
  peer_sends(from_peer(0, kWindowField, data(10)));
  ASSERT_EQ(kinds_, std::vector{Event::Kind::kReadable});
  EXPECT_EQ(asked, 0u);
}

}  // namespace
}  // namespace tapstack::engine_test
