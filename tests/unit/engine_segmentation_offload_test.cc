// Segmentation offload (EngineConfig::segmentation_offload): the data segments one transmit()
// sends back to back leave as one frame that the link cuts into those same segments (TSO), and
// nothing else changes: the segments are those the rules (windows, Nagle, the FIN) chose. The
// link completes the checksum of every data segment; control segments carry a complete one.
#include "tests/unit/engine_data_fixture.h"

namespace tapstack::engine_test {
namespace {

class EngineSegmentationOffload : public EngineData {
 protected:
  EngineSegmentationOffload() {
    EngineConfig config;
    config.segmentation_offload = true;
    reopen(config);
  }
};

TEST_F(EngineSegmentationOffload, SegmentsSentBackToBackLeaveAsOneFrameTheLinkCuts) {
  write(data(10 * kMss));  // the initial window's worth
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u);
  expect_data(segments[0], 0, 10 * kMss, kAck | kPsh);  // PSH: the kernel keeps it for the last
  EXPECT_EQ(sink_.segmented_frames, 1u);
  EXPECT_EQ(sink_.last_segment_size, kMss);
  // The counters count what goes on the wire: ten segments.
  expect_counters({{"data_segments_sent", 10},
                   {"data_bytes_sent", 10 * kMss},
                   {"segments_sent", 10},
                   {"packets_sent", 1},
                   {"frames_sent", 1}});
}

TEST_F(EngineSegmentationOffload, AShortTailEndsTheFrameWhenNagleLetsItGo) {
  OptionsChange no_delay;
  no_delay.no_delay = true;
  ASSERT_TRUE(engine().set_options(id_, no_delay).is_ok());
  write(data(3 * kMss + 100));  // without Nagle the tail goes with the full segments
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u);
  expect_data(segments[0], 0, 3 * kMss + 100, kAck | kPsh);
  EXPECT_EQ(sink_.last_segment_size, kMss);
}

TEST_F(EngineSegmentationOffload, NagleStillHoldsTheTailWhileDataIsInFlight) {
  write(data(100));
  auto first = out();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(sink_.segmented_frames, 0u) << "one short segment is no frame to cut";
  EXPECT_EQ(sink_.partial_checksums, 1u) << "the link completes its checksum all the same";
  write(data(2 * kMss + 50, 100));
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u);
  expect_data(segments[0], 100, 2 * kMss, kAck);  // the two full ones; 50 bytes wait
  peer_acks(100 + 2 * kMss);
  expect_data(one(), 100 + 2 * kMss, 50, kAck | kPsh);
}

TEST_F(EngineSegmentationOffload, TheCongestionWindowEndsTheFrame) {
  write(data(20 * kMss));
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u);
  expect_data(segments[0], 0, 10 * kMss, kAck);
}

TEST_F(EngineSegmentationOffload, TheFinRidesOnTheFrameAfterTheData) {
  peer_acks(0, 0);  // a closed window holds the data back until both are queued
  write(data(3 * kMss));
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  expect_nothing_sent();
  peer_acks(0);  // the window opens
  auto segments = out();
  ASSERT_EQ(segments.size(), 1u);
  expect_data(segments[0], 0, 3 * kMss, kAck | kPsh | kFin);
  EXPECT_EQ(sink_.segmented_frames, 1u);
}

TEST_F(EngineSegmentationOffload, OneSegmentIsNotCutAndOnlyDataLeavesItsChecksumToTheLink) {
  write(data(kMss));
  expect_data(one(), 0, kMss, kAck | kPsh);
  EXPECT_EQ(sink_.segmented_frames, 0u);
  EXPECT_EQ(sink_.partial_checksums, 1u) << "the handshake's segments carried complete ones";
  peer_acks(kMss);
  ASSERT_TRUE(engine().shutdown(id_).is_ok());
  ASSERT_EQ(out().size(), 1u);  // the FIN, alone
  EXPECT_EQ(sink_.partial_checksums, 1u);
}

}  // namespace
}  // namespace tapstack::engine_test
