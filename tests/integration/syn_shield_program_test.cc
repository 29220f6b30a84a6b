// The SYN shield's program run by the kernel on frames of our own (BPF_PROG_TEST_RUN), without a
// TAP or a flood: what it drops and passes, what it remembers and for how long. Needs CAP_BPF,
// as the rest of this suite needs root.
#include "stack/link/syn_shield_program.h"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

#include "tests/tools/tcp_frames.h"

namespace tapstack::link {
namespace {

constexpr uint32_t kDropped = 0;

std::vector<uint8_t> syn(uint16_t source_port, uint32_t seq) {
  std::array<uint8_t, tools::kSynFrameSize> frame{};
  tools::write_syn_frame(frame, tools::example_segment(source_port, seq));
  return {frame.begin(), frame.end()};
}

class SynShieldProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto filter = SynShieldFilter::load(42);
    ASSERT_TRUE(filter.is_ok()) << filter.status().message;
    filter_.emplace(std::move(filter.value()));
  }

  // The program's verdict: the length to keep (all of the frame), or 0 for dropped.
  uint32_t run(const std::vector<uint8_t>& frame) {
    auto result = bpf::run_socket_filter(filter_->program(), frame);
    EXPECT_TRUE(result.is_ok()) << result.status().message;
    return result.is_ok() ? result->verdict : ~0u;
  }
  void set_active(bool on) { store_shared(filter_->control().active, on ? 1 : 0); }
  uint64_t counter(uint64_t SynShieldControl::*field) {
    return load_shared(filter_->control().*field);
  }
  // What SynShield does every generation period: the older generation is forgotten and reused.
  void next_generation() {
    filter_->start_generation(1 - load_shared(filter_->control().generation));
  }

  std::optional<SynShieldFilter> filter_;
};

TEST_F(SynShieldProgramTest, WhileOffEverySynPassesFirstTime) {
  for (uint16_t port = 40000; port < 40100; ++port) {
    auto frame = syn(port, port * 7u);
    EXPECT_EQ(run(frame), frame.size());
  }
  EXPECT_EQ(counter(&SynShieldControl::first_syns_dropped), 0u);
}

TEST_F(SynShieldProgramTest, WhileOnANewSynIsDroppedAndItsRetransmissionPasses) {
  set_active(true);
  auto first = syn(40000, 1000);
  EXPECT_EQ(run(first), kDropped);
  EXPECT_EQ(run(first), first.size());
  EXPECT_EQ(run(first), first.size());
  // Another sequence number is another SYN (a new connection from the same port).
  EXPECT_EQ(run(syn(40000, 2000)), kDropped);
  EXPECT_EQ(counter(&SynShieldControl::first_syns_dropped), 2u);
  EXPECT_EQ(counter(&SynShieldControl::retransmissions_passed), 2u);
}

TEST_F(SynShieldProgramTest, ASynNotedWhileOffHasItsRetransmissionPassedOnceOn) {
  auto lost_in_the_queue = syn(40000, 1000);
  EXPECT_EQ(run(lost_in_the_queue), lost_in_the_queue.size());
  set_active(true);
  EXPECT_EQ(run(lost_in_the_queue), lost_in_the_queue.size());
}

TEST_F(SynShieldProgramTest, ASynIsRememberedForOneGenerationChangeNotTwo) {
  set_active(true);
  // Noted in generation 0, then (another SYN) in generation 1.
  for (uint16_t port : {40000, 40001}) {
    auto frame = syn(port, 1000);
    EXPECT_EQ(run(frame), kDropped);
    next_generation();
    EXPECT_EQ(run(frame), frame.size()) << port;  // in the generation now read as the previous one
    next_generation();
    EXPECT_EQ(run(frame), kDropped) << port;  // forgotten with it, so new again
    next_generation();
  }
}

TEST_F(SynShieldProgramTest, EveryOtherFramePassesWhileOn) {
  set_active(true);
  auto syn_ack = syn(40000, 1000);
  syn_ack[14 + 20 + 13] |= 0x10;  // ACK too (the checksum does not matter to the filter)
  EXPECT_EQ(run(syn_ack), syn_ack.size());
  // A short ICMP echo (shorter than a TCP header would need) and an ARP request.
  std::vector<uint8_t> icmp(14 + 20 + 8, 0);
  icmp[12] = 0x08;
  icmp[14] = 0x45;
  icmp[14 + 9] = 1;
  EXPECT_EQ(run(icmp), icmp.size());
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(run(arp), arp.size());
  // A SYN in an IPv4 fragment is not looked into.
  auto fragment = syn(40000, 3000);
  fragment[14 + 6] = 0x20;  // more fragments
  EXPECT_EQ(run(fragment), fragment.size());
  EXPECT_EQ(counter(&SynShieldControl::first_syns_dropped), 0u);
}

}  // namespace
}  // namespace tapstack::link
