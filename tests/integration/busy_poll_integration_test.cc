// Busy polling (--busy-poll-us): the loop spins only for its window after input. The whole
// integration suite also runs busy-polling (ctest integration_io_uring_busy_poll); this checks
// what that run cannot: that an idle loop goes back to sleep instead of burning its core.
#include <sys/resource.h>

#include <thread>

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

}  // namespace
}  // namespace tapstack::testing
