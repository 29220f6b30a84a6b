// Keepalive (issue 11, ICMP and keepalive bullet): probes after the idle time, one per
// interval, a reset after `count` unanswered ones; any segment from the peer starts the idle
// time again; a listener's setting is inherited; Linux's limits on the values.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;
const Keepalive kFast{.idle = seconds(10), .interval = seconds(2), .count = 3};

class EngineKeepalive : public EngineFamilyTest {
 protected:
  EngineKeepalive() {
    attach(peer_);
    listener_ = listen(kPort, 8);
  }
  void open() {
    auto [id, synack] = open_passive(listener_, kPort, peer_, kIrs);
    id_ = id;
    iss_ = synack.seq;
    opened_ = now();
  }
  // A probe: an ACK at SND.UNA - 1, which the peer must answer.
  void expect_probe_at(Time t) { expect_segment(expect_segment_at(t), kAck, iss_, kIrs + 1); }
  void peer_acks() {
    send(peer_, kPort,
         {.flags = kAck, .seq = kIrs + 1, .ack = iss_ + 1, .timestamp = Timestamp{tsval_++, 0}});
  }

  Peer peer_;
  EndpointId listener_ = 0;
  EndpointId id_ = 0;
  uint32_t iss_ = 0;
  uint32_t tsval_ = 7000;
  Time opened_{};
};

TEST_P(EngineKeepalive, UnansweredProbesResetTheConnection) {
  open();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  mark();
  expect_probe_at(opened_ + seconds(10));
  expect_probe_at(opened_ + seconds(12));
  expect_probe_at(opened_ + seconds(14));
  SentSegment rst = expect_segment_at(opened_ + seconds(16));
  expect_segment(rst, kRst | kAck, iss_ + 1, kIrs + 1);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id_), 1u);
  EXPECT_EQ(state_of(id_), TcpState::kClosed);
  expect_counters({{"keepalive_probes_sent", 3},
                   {"keepalive_timeouts", 1},
                   {"connections_closed", 1},
                   {"resets_sent", 1},
                   {"segments_sent", 4}});
}

TEST_P(EngineKeepalive, AnAnswerStartsTheIdleTimeAgain) {
  open();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  expect_probe_at(opened_ + seconds(10));
  expect_probe_at(opened_ + seconds(12));
  advance_by(milliseconds(100));
  peer_acks();
  Time answered = now();
  expect_probe_at(answered + seconds(10));
  expect_probe_at(answered + seconds(12));
  expect_probe_at(answered + seconds(14));
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
}

TEST_P(EngineKeepalive, TrafficPostponesTheFirstProbe) {
  open();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  advance_by(seconds(6));
  peer_acks();
  expect_probe_at(opened_ + seconds(16));
}

TEST_P(EngineKeepalive, AcceptedConnectionsInheritTheListenersSetting) {
  ASSERT_TRUE(engine().set_keepalive(listener_, kFast).is_ok());
  open();
  EXPECT_EQ(info(id_).keepalive, kFast);
  expect_probe_at(opened_ + seconds(10));
}

TEST_P(EngineKeepalive, TurningItOffStopsTheProbes) {
  open();
  ASSERT_TRUE(engine().set_keepalive(id_, kFast).is_ok());
  expect_probe_at(opened_ + seconds(10));
  ASSERT_TRUE(engine().set_keepalive(id_, std::nullopt).is_ok());
  advance_by(seconds(3600));
  expect_nothing_sent();
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);
}

TEST_P(EngineKeepalive, ValuesOutsideLinuxsLimitsAreRefused) {
  open();
  auto with = [](Duration idle, Duration interval, uint32_t count) {
    return Keepalive{.idle = idle, .interval = interval, .count = count};
  };
  EXPECT_EQ(engine().set_keepalive(id_, with(seconds(0), seconds(1), 1)).code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_keepalive(id_, with(seconds(1), seconds(32768), 1)).code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_keepalive(id_, with(seconds(1), seconds(1), 128)).code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_keepalive(id_, with(seconds(1), seconds(1), 0)).code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine().set_keepalive(9999, kFast).code, ErrorCode::kNotFound);
  EXPECT_FALSE(info(id_).keepalive);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineKeepalive);

}  // namespace
}  // namespace tapstack::engine_test
