// Busy polling (--busy-poll-us): the loop spins only for its window after input. The whole
// integration suite also runs busy-polling (ctest integration_io_uring_busy_poll, adaptive);
// this checks what that run cannot: that an idle loop goes back to sleep instead of burning its
// core, and that the adaptive window follows the input (not the loop's own replies) down to its
// floor and back up, over io_uring and over epoll (ctest runs the file once with each).
#include <sys/resource.h>

#include <thread>

#include "tests/integration/flood_fixture.h"
#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

// CPU time (user and system) this process has used so far.
std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

class BusyPoll : public NetnsTest {
 protected:
  static constexpr auto kWindow = 20ms;
  void configure_link(link::LinkOptions& link) override { link.busy_poll = {kWindow, false}; }
};

TEST_F(BusyPoll, LoopSleepsOnceTheWindowAfterTheLastInputHasPassed) {
  EndpointId listener = make_listener(8080, 16);
  KernelSocket client(5s);
  ASSERT_TRUE(client.connect_to(engine_address(), 8080));
  ASSERT_TRUE(events_.wait_for_connection(listener));

  // Nothing comes in now (the connection stays open and quiet). The idle time is what is
  // measured, so it is slept through; the loop may spin for one window of it, then sleeps.
  constexpr auto kIdle = 500ms;
  auto before = process_cpu_time();
  std::this_thread::sleep_for(kIdle);
  auto used = process_cpu_time() - before;
  EXPECT_LT(used, kIdle / 4) << "the loop kept spinning while idle";
  // Still serving: a frame after the sleep is handled.
  KernelSocket second(5s);
  EXPECT_TRUE(second.connect_to(engine_address(), 8080));
}

class AdaptiveBusyPoll : public FloodTest {
 protected:
  void configure_link(link::LinkOptions& link) override { link.busy_poll = {50us, true}; }
  const link::SpinWindow& spins() const { return loop_->busy_poll(); }
  Duration window() {
    return loop_->call([this](Engine&) { return loop_->busy_poll().length(); });
  }
};

TEST_F(AdaptiveBusyPoll, SparseFramesShrinkTheWindowToItsFloorAndABurstIsCaught) {
  // Sparse traffic: a refused connect every 10 ms (the spacing is the workload, not a wait for
  // anything). Each SYN gets a RST back: the write's completion must not count as input caught.
  uint64_t caught = spins().caught(), missed = spins().missed();
  for (int i = 0; i < 20; ++i) {
    KernelSocket s(2s);
    EXPECT_FALSE(s.connect_to(engine_address(), 9));
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LE(spins().caught() - caught, 2u) << "the loop's own replies counted as input";
  EXPECT_GE(spins().missed() - missed, 15u);
  EXPECT_EQ(window(), link::kAdaptiveFloor);

  // A burst of SYNs faster than the loop answers them: spins from the floor catch the next
  // frames (however long the last ones took to handle), and the window grows again.
  caught = spins().caught();
  uint64_t segments = loop_->stats().segments_received.get();
  tools::SynFloodConfig flood = flood_config(9);
  flood.max_packets = 5000;
  auto report = tools::run_syn_flood(flood);
  ASSERT_TRUE(report.is_ok()) << report.status().message;
  uint64_t reached = report->sent - report->link_dropped;
  ASSERT_TRUE(events_.eventually(
      [&] { return loop_->stats().segments_received.get() - segments >= reached; }));
  // The frames queue up and each wait takes a batch of them, so spins are fewer than frames;
  // four catches take the window from its floor to its top (5, 10, 20, 40, 50 us). Timed from
  // the input's arrival instead of the wait's start, a 5 us window is over before the batch is
  // handled, and no spin would run at all.
  EXPECT_GE(spins().caught() - caught, 4u);
}

}  // namespace
}  // namespace tapstack::testing
