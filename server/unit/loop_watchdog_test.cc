// The watchdog against a fake loop whose commands run only when the test says so: a loop that
// stops running them is reported dead after the timeout, and alive again once it catches up.
#include "server/loop_watchdog.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

namespace tapstack::server {
namespace {

using namespace std::chrono_literals;

class FakeLoop {
 public:
  void post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(fn));
    if (turning_) run_locked();
  }
  void set_turning(bool turning) {
    std::lock_guard lock(mutex_);
    turning_ = turning;
    if (turning_) run_locked();
  }

 private:
  void run_locked() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }
  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  bool turning_ = true;
};

class Reports {
 public:
  void add(bool alive) {
    std::lock_guard lock(mutex_);
    seen_.push_back(alive);
    changed_.notify_all();
  }
  // Waits (bounded) for the `n`th report and returns it.
  std::optional<bool> wait(size_t n, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, limit, [&] { return seen_.size() >= n; })) return std::nullopt;
    return seen_[n - 1];
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<bool> seen_;
};

TEST(LoopWatchdog, TurningLoopStaysAlive) {
  FakeLoop loop;
  Reports reports;
  {
    LoopWatchdog watchdog([&](std::function<void()> fn) { loop.post(std::move(fn)); },
                          [&](bool alive) { reports.add(alive); }, milliseconds(10),
                          milliseconds(100));
    EXPECT_EQ(reports.wait(1, 400ms), std::nullopt);  // many beats, each answered
    EXPECT_TRUE(watchdog.alive());
  }
  EXPECT_EQ(reports.count(), 0u);
}

TEST(LoopWatchdog, WedgedLoopIsReportedAndRecovers) {
  FakeLoop loop;
  Reports reports;
  LoopWatchdog watchdog([&](std::function<void()> fn) { loop.post(std::move(fn)); },
                        [&](bool alive) { reports.add(alive); }, milliseconds(10),
                        milliseconds(100));
  loop.set_turning(false);
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(reports.wait(1, 2s), false);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);  // not before the timeout
  EXPECT_FALSE(watchdog.alive());
  loop.set_turning(true);
  EXPECT_EQ(reports.wait(2, 2s), true);
  EXPECT_TRUE(watchdog.alive());
}

TEST(LoopWatchdog, OutlivedByItsPendingBeat) {
  FakeLoop loop;
  loop.set_turning(false);
  {
    LoopWatchdog watchdog([&](std::function<void()> fn) { loop.post(std::move(fn)); }, [](bool) {},
                          milliseconds(10), milliseconds(100));
  }
  loop.set_turning(true);  // the beat posted before the watchdog went away runs harmlessly
}

}  // namespace
}  // namespace tapstack::server
