// What query() tells about a connection (GetEndpoint, `tapstackctl ls -i`), followed through
// small transfers each way: data in flight, unsent and acknowledged, the RTT estimate and the
// RTO (RFC 6298), the congestion window before data, after the first send and after a timeout,
// the windows both ways, and data received in order and beyond a hole.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;  // the peer's ISS: its data starts at 1001
// The peer offers MSS 1460; every segment carries the 12-byte timestamp option.
constexpr uint32_t kMss = 1460 - 12;
constexpr uint16_t kWindowField = 502;        // the peer's window field, scaled by its shift of 7
constexpr uint32_t kInitialCwnd = 10 * kMss;  // RFC 6928
// The peer's final ACK comes a LAN round trip after our SYN-ACK: the first RTT sample.
constexpr Duration kHandshakeRtt = milliseconds(20);

class EngineConnectionInfo : public EngineTest {
 protected:
  EngineConnectionInfo() {
    attach(peer_);
    auto [id, synack] = open_passive(listen(kPort, 8), kPort, peer_, kIrs, kHandshakeRtt);
    id_ = id;
    synack_ = synack;
    our_next_ = synack.seq + 1;
  }

  ConnectionInfo connection() const { return connection_info(id_); }

  void write(size_t n) {
    Bytes data(n, 'x');
    auto written = engine().write(id_, data);
    ASSERT_TRUE(written.is_ok()) << written.status().message;
    ASSERT_EQ(*written, n);
  }

  // The data bytes sent since the last call; notes what the peer echoes and acknowledges.
  uint32_t bytes_sent() {
    uint32_t n = 0;
    for (const SentSegment& s : take_segments()) {
      n += static_cast<uint32_t>(s.payload_size);
      if (s.timestamp) latest_tsval_ = s.timestamp->value;
      last_sent_ = s;
    }
    our_next_ += n;
    return n;
  }

  // A segment from the peer at its next sequence number plus `offset`, acknowledging all we
  // sent and echoing our latest TSval, as a Linux peer's does.
  void peer_sends(Bytes payload = {}, uint32_t offset = 0) {
    const uint32_t seq = peer_next_ + offset;
    if (offset == 0) peer_next_ += static_cast<uint32_t>(payload.size());
    send(peer_, kPort,
         {.flags = kAck,
          .seq = seq,
          .ack = our_next_,
          .window = kWindowField,
          .timestamp = Timestamp{peer_tsval_++, latest_tsval_},
          .payload = std::move(payload)});
  }

  Peer peer_;
  EndpointId id_ = 0;
  SentSegment synack_;
  SentSegment last_sent_;
  uint32_t our_next_ = 0;
  uint32_t peer_next_ = kIrs + 1;
  uint32_t latest_tsval_ = 0;
  uint32_t peer_tsval_ = 7000;
};

TEST_F(EngineConnectionInfo, BeforeAnyDataNothingIsCountedAndThereIsNoCongestionState) {
  ConnectionInfo c = connection();
  EXPECT_EQ(c.mss, 1460);
  EXPECT_EQ(c.send_mss, kMss);
  EXPECT_EQ(c.bytes_acked, 0u);
  EXPECT_EQ(c.bytes_in_flight, 0u);
  EXPECT_EQ(c.bytes_unsent, 0u);
  EXPECT_EQ(c.segments_retransmitted, 0u);
  EXPECT_EQ(c.backoff, 0);
  EXPECT_EQ(c.send_window, uint32_t{kWindowField} << 7);  // the final ACK's, scaled
  // RFC 6298 §2.2 on the handshake's sample: SRTT = R, RTTVAR = R / 2, RTO at least 200 ms.
  EXPECT_EQ(c.srtt, kHandshakeRtt);
  EXPECT_EQ(c.rttvar, kHandshakeRtt / 2);
  EXPECT_EQ(c.rto, milliseconds(200));
  EXPECT_EQ(c.congestion_control, "cubic");  // the default algorithm is named already
  EXPECT_EQ(c.cwnd, 0u);
  EXPECT_FALSE(c.ssthresh.has_value());
  EXPECT_FALSE(c.in_recovery);
  EXPECT_EQ(c.bytes_received, 0u);
  EXPECT_EQ(c.out_of_order_bytes, 0u);
  EXPECT_EQ(c.receive_window, synack_.window);  // a SYN-ACK's window is never scaled
}

TEST_F(EngineConnectionInfo, CountsDataInFlightThenAcknowledgedWithTheRttItTook) {
  write(2 * kMss);
  ASSERT_EQ(bytes_sent(), 2 * kMss);
  ConnectionInfo c = connection();
  EXPECT_EQ(c.bytes_in_flight, 2 * kMss);
  EXPECT_EQ(c.bytes_unsent, 0u);
  EXPECT_EQ(c.bytes_acked, 0u);
  EXPECT_EQ(c.cwnd, kInitialCwnd);
  EXPECT_FALSE(c.ssthresh.has_value());  // infinite until a loss

  advance_by(milliseconds(30));
  peer_sends();
  c = connection();
  EXPECT_EQ(c.bytes_acked, 2 * kMss);
  EXPECT_EQ(c.bytes_in_flight, 0u);
  // RFC 6298 §2.3 after the handshake's 20 ms: SRTT = 7/8 SRTT + R / 8, RTTVAR = 3/4 RTTVAR
  // + |SRTT - R| / 4, RTO = SRTT + 4 RTTVAR, at least 200 ms.
  EXPECT_EQ(c.srtt, microseconds(21250));
  EXPECT_EQ(c.rttvar, microseconds(10000));
  EXPECT_EQ(c.rto, milliseconds(200));
  EXPECT_EQ(c.cwnd, kInitialCwnd);  // an application-limited flow does not grow its window
  EXPECT_EQ(c.segments_retransmitted, 0u);
}

TEST_F(EngineConnectionInfo, WhatTheCongestionWindowHoldsBackIsUnsent) {
  write(2 * kInitialCwnd);
  ASSERT_EQ(bytes_sent(), kInitialCwnd);
  ConnectionInfo c = connection();
  EXPECT_EQ(c.bytes_in_flight, kInitialCwnd);
  EXPECT_EQ(c.bytes_unsent, kInitialCwnd);
}

TEST_F(EngineConnectionInfo, ATimeoutShowsTheRetransmissionBackoffAndTheLossWindow) {
  write(2 * kMss);
  ASSERT_EQ(bytes_sent(), 2 * kMss);
  // The tail loss probe first, two RTTs and two ticks on (RFC 8985 §7.2): the last segment
  // again, and the RTO restarts from it.
  advance_by(2 * kHandshakeRtt + milliseconds(2));
  ASSERT_EQ(bytes_sent(), kMss);
  advance_by(milliseconds(200));  // the RTO after the handshake's sample
  ASSERT_EQ(bytes_sent(), kMss);  // the first segment again (cwnd is one MSS now)
  ConnectionInfo c = connection();
  EXPECT_EQ(c.segments_retransmitted, 2u);
  EXPECT_EQ(c.backoff, 1);
  EXPECT_EQ(c.rto, milliseconds(400));  // RFC 6298 §5.5
  EXPECT_EQ(c.cwnd, kMss);              // RFC 5681 §3.1: the loss window
  ASSERT_TRUE(c.ssthresh.has_value());
  EXPECT_GE(*c.ssthresh, 2 * kMss);
  EXPECT_LT(*c.ssthresh, kInitialCwnd);
  EXPECT_EQ(c.bytes_in_flight, 2 * kMss);  // everything from SND.UNA is still unacknowledged
  EXPECT_EQ(c.bytes_acked, 0u);
}

TEST_F(EngineConnectionInfo, CountsDataReceivedInOrderAndBeyondAHole) {
  peer_sends(Bytes(500, 'a'));
  peer_sends(Bytes(300, 'b'), 1000);  // a hole of 1000 bytes before it
  bytes_sent();                       // the ACKs
  ConnectionInfo c = connection();
  EXPECT_EQ(c.bytes_received, 500u);
  EXPECT_EQ(c.bytes_buffered, 500u);
  EXPECT_EQ(c.out_of_order_bytes, 300u);
  // The window last advertised, to the precision of our scale.
  ASSERT_TRUE(c.receive_window_scale.has_value());
  const uint8_t scale = *c.receive_window_scale;
  EXPECT_GE(c.receive_window, uint32_t{last_sent_.window} << scale);
  EXPECT_LT(c.receive_window, uint32_t{last_sent_.window + 1u} << scale);

  EXPECT_EQ(read_all(id_).size(), 500u);
  c = connection();
  EXPECT_EQ(c.bytes_received, 500u);  // received, read or not
  EXPECT_EQ(c.bytes_buffered, 0u);
}

}  // namespace
}  // namespace tapstack::engine_test
