// RACK's record (RFC 8985 §6): deliveries by cumulative ACK and SACK, RACK.rtt from the most
// recently sent of them, loss by send time with the reordering window, each loss reported
// once, a retransmission judged by its own send time, and spurious samples left out.
#include "stack/tcp/rack.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace tapstack::tcp {
namespace {

constexpr uint32_t kUna = 5000;
constexpr uint32_t kSeg = 100;
constexpr Time kT0 = seconds(10);

class RackTest : public ::testing::Test {
 protected:
  uint32_t seq(uint32_t n) const { return kUna + n * kSeg; }
  // Segments [first, last) sent at `t`, first transmissions.
  void send(uint32_t first, uint32_t last, Time t) {
    for (uint32_t n = first; n < last; ++n) rack_.on_send(seq(n), seq(n + 1), t, false);
  }
  void ack(uint32_t una, std::vector<header::SackBlock> blocks, Time t) {
    rack_.on_ack(seq(una), blocks, seq(high_), t, min_rtt_);
  }
  header::SackBlock block(uint32_t first, uint32_t last) const { return {seq(first), seq(last)}; }
  // What detect_loss reports at `t` with window `reo`, and its wait.
  std::pair<std::vector<uint32_t>, std::optional<Duration>> detect(Time t, Duration reo) {
    std::vector<uint32_t> lost;
    auto wait = rack_.detect_loss(
        t, reo, [&](uint32_t begin, uint32_t) { lost.push_back((begin - kUna) / kSeg); });
    return {lost, wait};
  }

  Rack rack_;
  uint32_t high_ = 10;
  Duration min_rtt_ = milliseconds(10);
};

TEST_F(RackTest, SegmentSentBeforeADeliveredOneIsLostAfterRttAndWindow) {
  send(0, 1, kT0);
  send(1, 2, kT0 + milliseconds(1));
  ack(0, {block(1, 2)}, kT0 + milliseconds(11));
  EXPECT_EQ(rack_.rtt(), milliseconds(10));
  auto [lost, wait] = detect(kT0 + milliseconds(11), milliseconds(2));
  EXPECT_TRUE(lost.empty());
  EXPECT_EQ(wait, milliseconds(1));  // sent at 0, + 10 + 2 = 12
  std::tie(lost, wait) = detect(kT0 + milliseconds(12), milliseconds(2));
  EXPECT_EQ(lost, std::vector<uint32_t>{0});
  EXPECT_FALSE(wait);
  std::tie(lost, wait) = detect(kT0 + milliseconds(20), milliseconds(2));
  EXPECT_TRUE(lost.empty()) << "reported once, until sent again";
  rack_.on_send(seq(0), seq(1), kT0 + milliseconds(20), true);
  EXPECT_EQ(rack_.segments(), 1u);
}

TEST_F(RackTest, SameTimeGoesBySequenceAndARetransmissionIsLater) {
  send(0, 3, kT0);
  ack(0, {block(2, 3)}, kT0 + milliseconds(10));
  auto [lost, wait] = detect(kT0 + milliseconds(10), Duration::zero());
  EXPECT_EQ(lost, (std::vector<uint32_t>{0, 1}));  // sent as late, but lower
  // Retransmitted at the instant new data goes and is delivered: not judged by it.
  rack_.on_send(seq(0), seq(1), kT0 + milliseconds(10), true);
  send(3, 4, kT0 + milliseconds(10));
  ack(0, {block(3, 4), block(2, 3)}, kT0 + milliseconds(20));
  std::tie(lost, wait) = detect(kT0 + milliseconds(30), Duration::zero());
  EXPECT_TRUE(lost.empty());
}

TEST_F(RackTest, LostRetransmissionIsFoundByDataSentAfterIt) {
  send(0, 4, kT0);
  ack(0, {block(1, 4)}, kT0 + milliseconds(10));
  detect(kT0 + milliseconds(10), Duration::zero());  // segment 0 lost
  rack_.on_send(seq(0), seq(1), kT0 + milliseconds(10), true);
  send(4, 5, kT0 + milliseconds(11));
  ack(0, {block(1, 5)}, kT0 + milliseconds(21));
  auto [lost, wait] = detect(kT0 + milliseconds(21), Duration::zero());
  EXPECT_EQ(lost, std::vector<uint32_t>{0});
}

TEST_F(RackTest, AnAckFasterThanMinRttGivesNoSampleFromARetransmission) {
  send(0, 2, kT0);
  ack(0, {block(1, 2)}, kT0 + milliseconds(10));
  rack_.on_send(seq(0), seq(1), kT0 + milliseconds(12), true);
  ack(1, {}, kT0 + milliseconds(13));  // the original's ACK, 1 ms after the retransmission
  EXPECT_EQ(rack_.rtt(), milliseconds(10));
  EXPECT_EQ(rack_.segments(), 0u);
}

TEST_F(RackTest, DeliveryBelowAnEarlierOneWithoutRetransmissionIsReordering) {
  send(0, 2, kT0);
  ack(0, {block(1, 2)}, kT0 + milliseconds(10));
  EXPECT_FALSE(rack_.reordering_seen());
  ack(2, {}, kT0 + milliseconds(11));
  EXPECT_TRUE(rack_.reordering_seen());
}

TEST_F(RackTest, BlocksOutsideTheFlightDeliverNothing) {
  send(0, 3, kT0);
  ack(0, {block(5, 20), {seq(2), seq(1)}}, kT0 + milliseconds(10));
  EXPECT_EQ(rack_.segments(), 3u);
  EXPECT_FALSE(rack_.rtt());
}

}  // namespace
}  // namespace tapstack::tcp
