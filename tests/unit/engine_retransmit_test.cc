// Rule 7: retransmission schedules to the millisecond, moving the fake clock in steps of 1 ms
// around every deadline. Linux's defaults: SYN-ACK at 1, 3, 7, 15, 31 s and given up at 63 s
// (tcp_synack_retries = 5); SYN at 1, 3, 7, 15, 31, 63 s and given up at 127 s
// (tcp_syn_retries = 6). Each copy carries a fresh TSval.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;

// Deadlines after the first transmission, in ms, for `retries` retransmissions and the give-up.
std::vector<int> backoff_schedule(int retries) {
  std::vector<int> deadlines;
  int at = 0;
  for (int i = 0; i <= retries; ++i) {
    at += 1000 << i;
    deadlines.push_back(at);
  }
  return deadlines;
}

class EngineRetransmit : public EngineFamilyTest {
 protected:
  EngineRetransmit() {
    peer_.port = kPort;
    attach(peer_);
  }

  // Expects `first` to be repeated exactly at each retransmission deadline of `schedule` (the
  // last entry is the give-up time, not checked here) with the same fields and a TSval that
  // moved by the time elapsed.
  void expect_retransmissions(const SentSegment& first, const std::vector<int>& schedule) {
    for (size_t i = 0; i + 1 < schedule.size(); ++i) {
      SCOPED_TRACE("retransmission at +" + std::to_string(schedule[i]) + " ms");
      SentSegment again = expect_segment_at(kStart + milliseconds(schedule[i]));
      expect_segment(again, first.flags, first.seq, first.ack);
      EXPECT_EQ(again.option_kinds, first.option_kinds);
      EXPECT_EQ(again.mss, first.mss);
      EXPECT_EQ(again.window, first.window);
      ASSERT_TRUE(again.timestamp && first.timestamp);
      EXPECT_EQ(again.timestamp->value, first.timestamp->value + schedule[i]);
      EXPECT_EQ(again.timestamp->echo, first.timestamp->echo);
    }
    advance_silently_to_just_before(kStart + milliseconds(schedule.back()));
  }

  void set_retries(int syn, int synack) {
    TunableConfig tunable = engine().tunable();
    tunable.syn_retries = syn;
    tunable.synack_retries = synack;
    engine().update_tunable(tunable);
  }

  // A half-open connection from the peer; returns the first SYN-ACK.
  SentSegment half_open(EndpointId* listener) {
    *listener = listen(kPort, 8);
    return syn(peer_, kPort, linux_syn(1000, 5000));
  }

  Peer peer_;
};

TEST_P(EngineRetransmit, SynAckRetransmittedAtExactBackoffAndRecordGoneAt63Seconds) {
  EndpointId listener = 0;
  SentSegment synack = half_open(&listener);
  mark();
  auto schedule = backoff_schedule(5);
  ASSERT_EQ(schedule, (std::vector{1000, 3000, 7000, 15000, 31000, 63000}));
  expect_retransmissions(synack, schedule);
  EXPECT_EQ(listener_info(listener).syn_received, 1u);  // still there at +62999 ms
  advance_to(kStart + seconds(63));
  expect_nothing_sent();
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  expect_counters({{"synack_retransmits", 5}, {"synacks_sent", 5}, {"handshake_timeouts", 1}});
  EXPECT_EQ(engine().next_deadline(), std::nullopt);

  // A final ACK that comes too late finds no state.
  send(peer_, kPort, final_ack(synack));
  expect_reset(take_segment(), peer_, kPort, kRst, synack.seq + 1, 0);
}

TEST_P(EngineRetransmit, SynRetransmittedAtExactBackoffAndTimesOutAt127Seconds) {
  auto [id, s] = start_connect(peer_);
  mark();
  auto schedule = backoff_schedule(6);
  ASSERT_EQ(schedule, (std::vector{1000, 3000, 7000, 15000, 31000, 63000, 127000}));
  expect_retransmissions(s, schedule);
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 0u);
  advance_to(kStart + seconds(127));
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 1u);
  EXPECT_EQ(state_of(id), TcpState::kClosed);
  // The peer's neighbour entry expired at +60 s: the retransmission at +63 s resolved it again.
  const bool ipv4 = current_family == IpFamily::kIpv4;
  expect_counters({{"syn_retransmits", 6},
                   {"attempt_fails", 1},
                   {"connections_closed", 1},
                   {ipv4 ? "arp_requests_sent" : "ndp_solicitations_sent", 1},
                   {ipv4 ? "arp_replies_received" : "ndp_advertisements_received", 1},
                   {"icmpv6_received", ipv4 ? 0u : 1u}});
  EXPECT_EQ(engine().next_deadline(), std::nullopt);
}

// TCP_USER_TIMEOUT cuts a connect short too: syn_retries or the user timeout, whichever comes
// first (Linux's tcp_write_timeout since 5.4), counted from the first SYN, with the timer brought
// forward to its end and at least one retransmission first.
class EngineConnectUserTimeout : public EngineRetransmit {
 protected:
  // connect() from an endpoint given `user_timeout` first; returns it and the first SYN.
  std::pair<EndpointId, SentSegment> connect_with(Duration user_timeout) {
    auto id = engine().create_endpoint();
    EXPECT_TRUE(id.is_ok());
    Status set =
        engine().set_options(*id, {.no_delay = std::nullopt, .user_timeout = user_timeout});
    EXPECT_TRUE(set.is_ok()) << set.message;
    Status connected = engine().connect(*id, peer_.address(), peer_.port);
    EXPECT_TRUE(connected.is_ok()) << connected.message;
    SentSegment syn = take_segment();
    mark();
    return {*id, syn};
  }
  void expect_timed_out(EndpointId id, uint64_t syn_retransmits) {
    expect_nothing_sent();
    EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 1u);
    EXPECT_EQ(state_of(id), TcpState::kClosed);
    expect_counters(
        {{"syn_retransmits", syn_retransmits}, {"attempt_fails", 1}, {"connections_closed", 1}});
  }
};

TEST_P(EngineConnectUserTimeout, EndsTheConnectBeforeSynRetries) {
  auto [id, syn] = connect_with(milliseconds(2500));
  expect_retransmissions(syn, {1000, 2500});  // the next would go at 3 s
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  advance_to(kStart + milliseconds(2500));
  expect_timed_out(id, 1);
}

TEST_P(EngineConnectUserTimeout, ShorterThanTheFirstRtoStillLetsOneRetransmissionGo) {
  auto [id, syn] = connect_with(milliseconds(300));
  expect_retransmissions(syn, {1000, 1001});
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 0u);
  advance_to(kStart + milliseconds(1001));
  expect_timed_out(id, 1);
}

TEST_P(EngineConnectUserTimeout, LongerThanSynRetriesChangesNothing) {
  set_retries(2, 5);
  auto [id, syn] = connect_with(seconds(10));
  expect_retransmissions(syn, backoff_schedule(2));  // 1 s, 3 s, given up at 7 s
  advance_to(kStart + seconds(7));
  expect_timed_out(id, 2);
}

TEST_P(EngineRetransmit, SynAckRetriesAreTunable) {
  set_retries(6, 2);
  EndpointId listener = 0;
  SentSegment synack = half_open(&listener);
  expect_retransmissions(synack, backoff_schedule(2));  // 1 s, 3 s, gone at 7 s
  EXPECT_EQ(listener_info(listener).syn_received, 1u);
  advance_to(kStart + seconds(7));
  expect_nothing_sent();
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
  EXPECT_EQ(stats().handshake_timeouts.get(), 1u);
}

TEST_P(EngineRetransmit, SynAckRetriesZeroGivesUpAfterOneSecond) {
  set_retries(6, 0);
  EndpointId listener = 0;
  half_open(&listener);
  advance_silently_to_just_before(kStart + seconds(1));
  advance_to(kStart + seconds(1));
  expect_nothing_sent();
  EXPECT_EQ(listener_info(listener).syn_received, 0u);
}

TEST_P(EngineRetransmit, SynRetriesAreTunable) {
  set_retries(2, 5);
  auto [id, s] = start_connect(peer_);
  expect_retransmissions(s, backoff_schedule(2));
  EXPECT_EQ(state_of(id), TcpState::kSynSent);
  advance_to(kStart + seconds(7));
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 1u);
  EXPECT_EQ(stats().syn_retransmits.get(), 2u);
}

TEST_P(EngineRetransmit, TunableChangeAppliesToConnectionsInFlight) {
  auto [id, s] = start_connect(peer_);
  expect_segment_at(kStart + seconds(1));
  set_retries(1, 5);  // already retransmitted once: the next deadline gives up
  advance_silently_to_just_before(kStart + seconds(3));
  advance_to(kStart + seconds(3));
  expect_nothing_sent();
  EXPECT_EQ(count_events(Event::Kind::kTimedOut, id), 1u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineRetransmit);
INSTANTIATE_FOR_BOTH_FAMILIES(EngineConnectUserTimeout);

}  // namespace
}  // namespace tapstack::engine_test
