// The engine's capture hook: every frame received (before any parsing) and every frame sent
// passes the running captures, with its direction and bytes as they crossed the link; with no
// capture, or after detach, nothing is copied.
#include <gtest/gtest.h>

#include "tests/unit/engine_fixture.h"

namespace tapstack::engine_test {
namespace {

constexpr uint16_t kPort = 80;
int64_t fake_wall_clock() {
  return 1'700'000'000'123'456'789;
}

class EngineCapture : public EngineFamilyTest {
 protected:
  EngineCapture() {
    attach(peer_);
    engine().captures().set_wall_clock(fake_wall_clock);
  }

  std::vector<capture::Frame> drain(capture::CaptureRing& ring) {
    std::vector<capture::Frame> out;
    ring.drain(out, 1 << 20);
    return out;
  }

  Peer peer_;
};

TEST_P(EngineCapture, AHandshakeIsCapturedBothWaysWithTheLinksBytes) {
  EndpointId listener = listen(kPort, 8);
  auto ring = std::make_shared<capture::CaptureRing>(1 << 16);
  engine().captures().attach(1, {.local_port = kPort, .handshake_only = true}, ring);

  const Bytes syn_frame = tcp_frame(peer_, kPort, linux_syn(1000));
  deliver(syn_frame);
  const std::vector<Bytes> synack_frames = take_frames();
  ASSERT_EQ(synack_frames.size(), 1u);
  const SentSegment synack = *dissect_tcp(synack_frames[0]);
  const Bytes ack_frame = tcp_frame(peer_, kPort, final_ack(synack));
  deliver(ack_frame);
  ASSERT_TRUE(engine().accept(listener).is_ok());
  // After the handshake: data is not a handshake segment.
  SegmentSpec data = final_ack(synack);
  data.flags = kAck | kPsh;
  data.payload = {1, 2, 3};
  deliver(tcp_frame(peer_, kPort, data));

  const auto frames = drain(*ring);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].direction, capture::Direction::kReceived);
  EXPECT_EQ(frames[0].bytes, syn_frame);
  EXPECT_EQ(frames[1].direction, capture::Direction::kSent);
  EXPECT_EQ(frames[1].bytes, synack_frames[0]);
  EXPECT_EQ(frames[2].direction, capture::Direction::kReceived);
  EXPECT_EQ(frames[2].bytes, ack_frame);
  for (const auto& f : frames) EXPECT_EQ(f.timestamp_ns, fake_wall_clock());
  EXPECT_EQ(ring->lost(), 0u);
}

TEST_P(EngineCapture, NoFilterTakesEveryFrameAndAfterDetachNothing) {
  EndpointId listener = listen(kPort, 8);
  auto all = std::make_shared<capture::CaptureRing>(1 << 16);
  auto port = std::make_shared<capture::CaptureRing>(1 << 16);
  auto other = std::make_shared<capture::CaptureRing>(1 << 16);
  engine().captures().attach(1, {}, all);
  engine().captures().attach(2, {.local_port = kPort}, port);
  engine().captures().attach(3, {.local_port = kPort + 1}, other);
  EXPECT_EQ(engine().captures().size(), 3u);

  open_passive(listener, kPort, peer_);
  deliver(Bytes(10, 0));  // too short for Ethernet: captured all the same, before parsing
  EXPECT_EQ(drain(*port).size(), 3u);
  EXPECT_EQ(drain(*all).size(), 4u);
  EXPECT_TRUE(other->empty());

  engine().captures().detach(1);
  engine().captures().detach(2);
  engine().captures().detach(3);
  EXPECT_FALSE(engine().captures().any());
  Peer second = peer_;
  second.port = 40001;
  open_passive(listener, kPort, second);
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(port->empty());
  EXPECT_EQ(all->pushed(), 4u);
}

TEST_P(EngineCapture, AFullRingLosesFramesAndTheEngineGoesOn) {
  EndpointId listener = listen(kPort, 64);
  auto ring = std::make_shared<capture::CaptureRing>(capture::CaptureRing::kMinCapacity);
  engine().captures().attach(1, {.local_port = kPort}, ring);
  for (uint16_t i = 0; i < 40; ++i) {
    Peer p = peer_;
    p.port = static_cast<uint16_t>(41000 + i);
    open_passive(listener, kPort, p);
  }
  // 120 frames of 66..94 bytes into 4 KiB with nobody reading; every handshake completed
  // (open_passive checks each).
  EXPECT_GT(ring->lost(), 0u);
  EXPECT_EQ(ring->pushed() + ring->lost(), 120u);
}

INSTANTIATE_FOR_BOTH_FAMILIES(EngineCapture);

}  // namespace
}  // namespace tapstack::engine_test
