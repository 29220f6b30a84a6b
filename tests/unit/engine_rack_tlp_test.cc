// RACK-TLP (RFC 8985): losses found by send time, not by counting. An answer lost before its
// FIN, a lost tail, a lost retransmission are all repaired without the RTO; reordering within
// the window retransmits nothing; the probe waits for an RTT sample and stays out of recovery.
#include <gtest/gtest.h>

#include "tests/unit/engine_data_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr Duration kRtt = milliseconds(10);

// The handshake takes kRtt: SRTT and min_rtt are kRtt from the first byte on.
class EngineRackTlp : public EngineData {
 protected:
  EngineRackTlp() : EngineData(kRtt) {}
  // A duplicate ACK of data byte `acked` SACKing [from, to) (data offsets).
  void peer_sacks(size_t acked, size_t from, size_t to) {
    SegmentSpec spec = from_peer(acked);
    spec.sack.emplace_back(at(from), at(to));
    peer_sends(spec);
  }
  // The flight after the first 2 segments: two more, the second arriving first. RACK resends
  // the first `wait` after the SACK that says so: its reordering window on a 1 ms timer.
  void expect_next_flight_waits(Duration wait) {
    write(data(2 * kMss));
    ASSERT_EQ(out().size(), 2u);
    const Time sent = now();
    advance_by(kRtt);
    peer_sacks(2 * kMss, 3 * kMss, 4 * kMss);
    expect_data(one_at(sent + kRtt + wait), 2 * kMss, kMss);
  }
};

// The request/response case: the answer and then the FIN go as two segments; the answer is
// lost and the peer SACKs the FIN. One SACKed segment is no loss by DupThresh, but the FIN was
// sent after the answer and arrived: RACK retransmits the answer a reordering window (a
// quarter of the RTT) after the FIN's ACK, not an RTO later.
TEST_F(EngineRackTlp, AnswerLostBeforeASackedFinIsRetransmittedAfterTheReorderingWindow) {
  write(data(1024));
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  auto sent = out();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[1].flags & kFin);
  const Time t0 = now();
  mark();
  advance_by(kRtt);
  peer_sacks(0, 1024, 1025);  // the FIN arrived, the answer did not
  EXPECT_TRUE(out().empty()) << "the answer may still be on its way (reordering)";
  // RACK.rtt is 10 ms, and min_rtt (the handshake's) too: the window is 2.5 ms, on a timer of
  // 1 ms ticks.
  expect_data(one_at(t0 + kRtt + milliseconds(3)), 0, 1024, kAck | kPsh);
  advance_by(kRtt);
  peer_acks(1025);
  EXPECT_TRUE(out().empty());
  expect_counters({{"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"rack_lost_segments", 1},
                   {"rack_reorder_timeouts", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 1},
                   {"data_bytes_sent", 1024}});
}

// A D-SACK says the retransmission was spurious (the original came late, not lost): the
// reordering window grows by another quarter of min_rtt (RFC 8985 §6.2 step 4), so the same
// reordering in the next flight waits 5 ms before RACK calls the segment lost, not 2.5.
TEST_F(EngineRackTlp, ADsackWidensTheReorderingWindowForTheNextFlight) {
  write(data(2 * kMss));
  ASSERT_EQ(out().size(), 2u);
  const Time t0 = now();
  advance_by(kRtt);
  peer_sacks(0, kMss, 2 * kMss);  // the second arrived first
  expect_data(one_at(t0 + kRtt + milliseconds(3)), 0, kMss);
  // The original arrives after all, then the retransmission: the peer's ACKs echo the
  // original's TSval, the one that filled the hole (RFC 7323 §4.3).
  advance_by(milliseconds(1));
  SegmentSpec late = from_peer(2 * kMss);
  late.timestamp->echo = our_tsval(t0);
  peer_sends(late);
  SegmentSpec dsack = from_peer(2 * kMss);
  dsack.timestamp->echo = our_tsval(t0);
  dsack.sack.emplace_back(at(0), at(kMss));  // below SND.UNA: a duplicate
  peer_sends(dsack);
  EXPECT_TRUE(out().empty());

  expect_next_flight_waits(milliseconds(5));
  peer_acks(4 * kMss);
  EXPECT_TRUE(out().empty());
  expect_counters({{"fast_retransmits", 2},
                   {"sack_recoveries", 2},
                   {"rack_lost_segments", 2},
                   {"rack_reorder_timeouts", 2},
                   {"dsacks_received", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 6},
                   {"data_bytes_sent", 6 * kMss}});
}

// A D-SACK of a segment never sent again is the network's duplicate (or a forger's), not a
// spurious retransmission of ours: the window stays a quarter of min_rtt.
TEST_F(EngineRackTlp, ADsackOfASegmentNeverSentAgainLeavesTheWindowAlone) {
  write(data(2 * kMss));
  ASSERT_EQ(out().size(), 2u);
  advance_by(kRtt);
  peer_acks(2 * kMss);
  SegmentSpec dsack = from_peer(2 * kMss);
  dsack.sack.emplace_back(at(0), at(kMss));  // below SND.UNA: a duplicate
  peer_sends(dsack);
  EXPECT_TRUE(out().empty());

  expect_next_flight_waits(milliseconds(3));
  expect_counters({{"dsacks_received", 1},
                   {"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"rack_lost_segments", 1},
                   {"rack_reorder_timeouts", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 5},
                   {"data_bytes_sent", 5 * kMss}});
}

// A lost tail has nothing after it to be SACKed: TLP sends the last segment again after two
// round trips (plus two timer ticks), its ACK SACKs it, and RACK finds the one before it lost.
TEST_F(EngineRackTlp, LostTailIsProbedAfterTwoRoundTripsAndRepairedWithoutATimeout) {
  write(data(4 * kMss));
  ASSERT_EQ(out().size(), 4u);
  advance_by(kRtt);
  peer_acks(2 * kMss);  // segments 3 and 4 of the four (offsets 2 and 3 kMss) are lost
  const Time acked = now();
  expect_data(one_at(acked + 2 * kRtt + milliseconds(2)), 3 * kMss, kMss, kAck | kPsh);
  advance_by(kRtt);
  peer_sacks(2 * kMss, 3 * kMss, 4 * kMss);  // the probe arrived
  expect_data(one(), 2 * kMss, kMss);
  advance_by(kRtt);
  peer_acks(4 * kMss);
  EXPECT_TRUE(out().empty());
  expect_counters({{"tlp_probes_sent", 1},
                   {"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"rack_lost_segments", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 6},
                   {"data_bytes_sent", 6 * kMss}});
}

// A retransmission lost again: DupThresh never says so (HighRxt has passed it), but new data
// sent after it arrives, and RACK finds the retransmission lost a round trip after it went.
TEST_F(EngineRackTlp, LostRetransmissionIsFoundWithoutATimeout) {
  write(data(6 * kMss));
  ASSERT_EQ(out().size(), 6u);
  advance_by(kRtt);
  peer_sacks(0, kMss, 6 * kMss);  // the first segment lost, the five after it arrived
  expect_data(one(), 0, kMss);    // fast retransmit; it is lost too
  advance_by(milliseconds(1));
  write(data(2 * kMss));
  ASSERT_EQ(out().size(), 2u) << "new data in recovery (RFC 6675 NextSeg rule 2)";
  advance_by(kRtt);
  peer_sacks(0, kMss, 8 * kMss);  // the new data arrived, the retransmission not
  expect_data(one(), 0, kMss);
  advance_by(kRtt);
  peer_acks(8 * kMss);
  EXPECT_TRUE(out().empty());
  expect_counters({{"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"rack_lost_segments", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 10},
                   {"data_bytes_sent", 10 * kMss}});
}

// With data waiting for the congestion window, the probe is new data (the peer's window takes
// it; cwnd does not hold a probe back), once per flight: the RTO, restarted, comes next.
TEST_F(EngineRackTlp, ProbeSendsNewDataWhenThereIsSomeAndOnlyOnce) {
  write(data(12 * kMss));
  ASSERT_EQ(out().size(), 10u) << "the initial window";
  const Time probe = now() + 2 * kRtt + milliseconds(2);
  expect_data(one_at(probe), 10 * kMss, kMss);
  expect_data(one_at(probe + milliseconds(200)), 0, kMss);
  expect_counters({{"tlp_probes_sent", 1},
                   {"retransmit_timeouts", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 12},
                   {"data_bytes_sent", 12 * kMss}});
}

// A segment overtaken by the next one but arriving within the reordering window is not lost:
// the reordering timer is armed, and the late segment's ACK comes first.
TEST_F(EngineRackTlp, ReorderingWithinTheWindowRetransmitsNothing) {
  write(data(2 * kMss));
  ASSERT_EQ(out().size(), 2u);
  advance_by(kRtt);
  peer_sacks(0, kMss, 2 * kMss);  // the second arrived first
  EXPECT_TRUE(out().empty());
  advance_by(milliseconds(1));  // within min_rtt / 4 = 2.5 ms
  peer_acks(2 * kMss);
  advance_by(seconds(1));
  EXPECT_TRUE(out().empty());
  expect_counters({{"data_segments_sent", 2}, {"data_bytes_sent", 2 * kMss}});
}

// Without an RTT sample the probe timeout would be a guess no better than the RTO's: the first
// retransmission is the RTO's (3 s after a handshake that needed a retransmission).
TEST_F(EngineRackTlp, NoProbeWithoutAnRttSample) {
  reopen_without_rtt_sample();
  write(data(4 * kMss));
  ASSERT_EQ(out().size(), 4u);
  mark();
  expect_data(one_at(now() + seconds(3)), 0, kMss);
  expect_counters({{"retransmit_timeouts", 1},
                   {"data_segments_retransmitted", 1},
                   {"data_segments_sent", 1},
                   {"data_bytes_sent", kMss}});
}

// In recovery the ACKs clock the retransmissions: no probe (it was due 22 ms after the data
// went), and the RTO stays the backstop (200 ms, the floor, from the data's first segment).
TEST_F(EngineRackTlp, NoProbeInRecovery) {
  const Time sent = now();
  write(data(6 * kMss));
  ASSERT_EQ(out().size(), 6u);
  advance_by(kRtt);
  peer_sacks(0, kMss, 6 * kMss);
  expect_data(one(), 0, kMss);
  expect_data(one_at(sent + milliseconds(200)), 0, kMss);
  expect_counters({{"fast_retransmits", 1},
                   {"sack_recoveries", 1},
                   {"retransmit_timeouts", 1},
                   {"data_segments_retransmitted", 2},
                   {"data_segments_sent", 8},
                   {"data_bytes_sent", 8 * kMss}});
}

}  // namespace
}  // namespace tapstack::engine_test
