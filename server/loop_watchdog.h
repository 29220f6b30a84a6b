// Tells whether the engine loop still turns. Every `interval` it posts a no-op command to the
// loop (the loop's heartbeat: a loop that runs its commands is reading its queue and its TAP
// in the same turn); when one has waited longer than `timeout`, the loop is wedged and
// `report(false)` is called, and `report(true)` once it answers again. The daemon turns this
// into NOT_SERVING on grpc.health.v1, so that a liveness probe restarts it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "stack/clock.h"

namespace tapstack::server {

class LoopWatchdog {
 public:
  // Runs `fn` on the loop thread (EngineLoop::post, or a fake loop in tests).
  using Post = std::function<void(std::function<void()> fn)>;
  using Report = std::function<void(bool alive)>;

  LoopWatchdog(Post post, Report report, Duration interval, Duration timeout);
  ~LoopWatchdog();
  LoopWatchdog(const LoopWatchdog&) = delete;
  LoopWatchdog& operator=(const LoopWatchdog&) = delete;

  bool alive() const { return alive_.load(); }

 private:
  // The heartbeat's answer, shared with commands that may outlive the watchdog.
  struct Beat {
    std::mutex mutex;
    std::condition_variable answered;
    uint64_t last_answered = 0;
  };

  void run();

  const Post post_;
  const Report report_;
  const Duration interval_;
  const Duration timeout_;
  std::shared_ptr<Beat> beat_ = std::make_shared<Beat>();
  std::atomic<bool> alive_{true};
  bool stopping_ = false;  // guarded by beat_->mutex
  std::thread thread_;
};

}  // namespace tapstack::server
