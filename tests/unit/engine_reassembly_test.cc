// The receive side's reassembly: out-of-order data kept in the receive buffer until the hole
// fills, SACK blocks (RFC 2018) and D-SACK (RFC 2883) in the ACKs, a bounded number of held
// ranges, a window that never exceeds the buffer, and a FIN that arrives out of order.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <utility>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;  // the peer's ISS: its byte at offset k has sequence 1001 + k

using Block = std::pair<uint32_t, uint32_t>;  // a SACK block as sequence numbers [start, end)

// The peer's bytes from `offset` on: a pattern that differs at every offset in a segment, so
// that bytes delivered in the wrong place are seen.
Bytes stream(size_t offset, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((offset + i) * 7 % 251);
  return b;
}

// An ACK we sent, with the SACK option's blocks read by libtins (TCP option 5).
struct Ack {
  SentSegment segment;
  std::vector<Block> sack;
};

class EngineReassembly : public EngineTest {
 protected:
  EngineReassembly() { open(); }

  // A connection from the peer through a listener on kPort; SACK as the peer offers it.
  void open(bool sack = true) {
    attach(peer_);
    listener_ = listen(kPort, 8);
    SegmentSpec syn_spec = linux_syn(kIrs);
    syn_spec.sack_permitted = sack;
    SentSegment synack = syn(peer_, kPort, syn_spec);
    send(peer_, kPort, final_ack(synack));
    expect_nothing_sent();
    auto id = engine().accept(listener_);
    ASSERT_TRUE(id.is_ok());
    id_ = *id;
    iss_ = synack.seq;
  }
  void restart_with(size_t receive_buffer, bool sack = true) {
    EngineConfig config;
    config.receive_buffer = receive_buffer;
    restart(config);
    open(sack);
  }

  // The peer's bytes [offset, offset + n) of its stream, with FIN if asked.
  void peer_sends(size_t offset, size_t n, bool fin = false) {
    send(peer_, kPort,
         {.flags = static_cast<uint8_t>(kAck | (fin ? kFin : 0)),
          .seq = kIrs + 1 + static_cast<uint32_t>(offset),
          .ack = iss_ + 1,
          .window = 502,
          .timestamp = Timestamp{peer_tsval_++, 0},
          .payload = stream(offset, n)});
  }

  // The one segment sent since the last look, which must be an ACK sent at once.
  Ack take_ack() {
    std::vector<Bytes> frames = take_frames();
    if (frames.size() != 1) {
      ADD_FAILURE() << "expected one ACK, got " << frames.size() << " frames";
      return {};
    }
    Ack ack{*dissect_tcp(frames[0]), {}};
    Tins::EthernetII eth(frames[0].data(), static_cast<uint32_t>(frames[0].size()));
    const auto& tcp = eth.rfind_pdu<Tins::TCP>();
    if (tcp.search_option(Tins::TCP::SACK)) {
      const std::vector<uint32_t> edges = tcp.sack();
      for (size_t i = 0; i + 1 < edges.size(); i += 2)
        ack.sack.emplace_back(edges[i], edges[i + 1]);
    }
    EXPECT_EQ(flags_string(ack.segment.flags), flags_string(kAck));
    EXPECT_EQ(ack.segment.seq, iss_ + 1);
    return ack;
  }

  // Sequence numbers of the stream's bytes [from, to).
  static Block seqs(uint32_t from, uint32_t to) { return {kIrs + 1 + from, kIrs + 1 + to}; }

  Peer peer_;
  EndpointId listener_ = 0;
  EndpointId id_ = 0;
  uint32_t iss_ = 0;
  uint32_t peer_tsval_ = 7000;
};

TEST_F(EngineReassembly, OutOfOrderDataIsKeptAndDeliveredInOrderWhenTheHolesFill) {
  mark();
  peer_sends(200, 100);
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(200, 300)}));
  peer_sends(400, 100);
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1);
  // RFC 2018 §4: the block of the segment that triggered the ACK first.
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(400, 500), seqs(200, 300)}));
  EXPECT_EQ(connection_info(id_).bytes_buffered, 0u);  // nothing readable yet

  // The first hole fills: the held range after it joins, and the ACK goes out at once.
  peer_sends(0, 200);
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 301);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(400, 500)}));
  EXPECT_EQ(connection_info(id_).bytes_buffered, 300u);
  peer_sends(300, 100);
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 501);
  EXPECT_TRUE(ack.sack.empty());
  EXPECT_EQ(read_all(id_), stream(0, 500));
  expect_counters({{"out_of_order_segments", 2}, {"data_bytes_received", 500}});
}

TEST_F(EngineReassembly, SegmentsThatFillAHoleOrRepeatDataAreAcknowledgedAtOnce) {
  for (uint32_t k = 0; k < 16; ++k) {  // the quick ACKs of the connection's start
    peer_sends(10 * k, 10);
    take_ack();
  }
  peer_sends(160, 10);
  expect_nothing_sent();  // in order: the ACK is delayed
  peer_sends(200, 10);
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 171);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(200, 210)}));
  peer_sends(170, 10);  // fills part of the hole
  EXPECT_EQ(take_ack().segment.ack, kIrs + 181);
  peer_sends(180, 20);  // fills the rest
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 211);
  EXPECT_TRUE(ack.sack.empty());
  peer_sends(205, 10);  // half a repeat: its D-SACK goes out at once
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 216);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(205, 210)}));
  peer_sends(215, 10);
  expect_nothing_sent();
  EXPECT_EQ(read_all(id_), stream(0, 225));
}

TEST_F(EngineReassembly, SackBlocksAreTheMostRecentThreeNextToTimestamps) {
  for (uint32_t k = 1; k <= 4; ++k) {
    peer_sends(200 * k, 100);
    take_ack();
  }
  peer_sends(400, 100);  // a duplicate of the second range makes it the most recent
  Ack ack = take_ack();
  ASSERT_TRUE(ack.segment.timestamp.has_value());
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(400, 500), seqs(400, 500), seqs(800, 900)}));
}

TEST_F(EngineReassembly, DuplicateOfHeldDataIsReportedOnceAsDsack) {
  peer_sends(200, 100);
  take_ack();
  peer_sends(200, 100);
  // RFC 2883 §4.2: the duplicate first, then the block that holds it.
  EXPECT_EQ(take_ack().sack, (std::vector<Block>{seqs(200, 300), seqs(200, 300)}));
  peer_sends(400, 100);
  EXPECT_EQ(take_ack().sack, (std::vector<Block>{seqs(400, 500), seqs(200, 300)}));
}

TEST_F(EngineReassembly, DuplicateOfAcknowledgedDataIsReportedBelowTheAck) {
  peer_sends(0, 100);
  EXPECT_EQ(take_ack().segment.ack, kIrs + 101);
  peer_sends(0, 100);  // all old: answered as an unacceptable segment
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 101);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(0, 100)}));
  peer_sends(50, 100);  // half old: the old half is the duplicate, the rest is taken
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 151);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(50, 100)}));
  EXPECT_EQ(read_all(id_), stream(0, 150));
}

TEST_F(EngineReassembly, AThirtyThirdHoleIsDroppedAndCounted) {
  mark();
  // 1-byte segments two bytes apart: 32 held ranges, then 8 refused.
  for (uint32_t k = 1; k <= 40; ++k) {
    peer_sends(2 * k, 1);
    EXPECT_EQ(take_ack().segment.ack, kIrs + 1);
  }
  expect_counters({{"out_of_order_segments", 40}, {"drop.out_of_order_dropped", 8}});
  // Filling every hole up to offset 66 delivers the 32 held bytes, but not the 33rd, which was
  // never stored: the peer sends it again.
  peer_sends(0, 66);
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1 + 66);
  EXPECT_TRUE(ack.sack.empty());
  peer_sends(66, 20);
  EXPECT_EQ(take_ack().segment.ack, kIrs + 1 + 86);
  EXPECT_EQ(read_all(id_), stream(0, 86));
}

TEST_F(EngineReassembly, HeldDataStaysWithinTheBufferAndTheWindow) {
  restart_with(4096);
  constexpr uint32_t kRightEdge = kIrs + 1 + 4096;
  mark();
  peer_sends(1000, 3196);  // its last 100 bytes lie past the buffer
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1);
  EXPECT_EQ(ack.segment.ack + ack.segment.window, kRightEdge);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(1000, 4096)}));
  peer_sends(0, 1000);
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kRightEdge);
  EXPECT_EQ(ack.segment.window, 0);
  expect_counters({{"out_of_order_segments", 1},
                   {"drop.receive_buffer_full", 1},
                   {"data_bytes_received", 4096}});
  EXPECT_EQ(read_all(id_), stream(0, 4096));
  ack = take_ack();  // the window reopens
  EXPECT_EQ(ack.segment.ack + ack.segment.window, kRightEdge + 4096);
}

TEST_F(EngineReassembly, AFinOutOfOrderIsTakenOnlyWhenItsRetransmissionArrivesInOrder) {
  peer_sends(100, 100, /*fin=*/true);
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(100, 200)}));
  peer_sends(0, 100);
  EXPECT_EQ(take_ack().segment.ack, kIrs + 201);  // the data, not the FIN
  EXPECT_EQ(state_of(id_), TcpState::kEstablished);

  peer_sends(100, 100, /*fin=*/true);  // the peer's retransmission
  ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 202);
  EXPECT_EQ(ack.sack, (std::vector<Block>{seqs(100, 200)}));  // its data was a duplicate
  EXPECT_EQ(state_of(id_), TcpState::kCloseWait);
  EXPECT_EQ(read_all(id_), stream(0, 200));
  EXPECT_TRUE(read_all(id_).empty());  // end of stream
}

TEST_F(EngineReassembly, WithoutSackOutOfOrderDataIsKeptButNoBlocksAreSent) {
  restart_with(128 * 1024, /*sack=*/false);
  peer_sends(100, 100);
  Ack ack = take_ack();
  EXPECT_EQ(ack.segment.ack, kIrs + 1);
  EXPECT_TRUE(ack.sack.empty());
  EXPECT_EQ(ack.segment.option_kinds,
            (std::vector<uint8_t>{Tins::TCP::NOP, Tins::TCP::NOP, Tins::TCP::TSOPT}));
  peer_sends(100, 100);  // a duplicate: no D-SACK either
  EXPECT_TRUE(take_ack().sack.empty());
  peer_sends(0, 100);
  EXPECT_EQ(take_ack().segment.ack, kIrs + 201);
  EXPECT_EQ(read_all(id_), stream(0, 200));
}

TEST_F(EngineReassembly, CloseWithOnlyOutOfOrderDataHeldSendsAFin) {
  peer_sends(100, 100);
  take_ack();
  // Nothing in order was unread, so the close is an orderly FIN (Linux counts only the
  // in-order queue as unread, tcp_close).
  ASSERT_TRUE(engine().close(id_, false).is_ok());
  SentSegment fin = take_segment();
  expect_segment(fin, kFin | kAck, iss_ + 1, kIrs + 1);
}

}  // namespace
}  // namespace tapstack::engine_test
