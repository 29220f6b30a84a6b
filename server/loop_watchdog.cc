#include "server/loop_watchdog.h"

namespace tapstack::server {

LoopWatchdog::LoopWatchdog(Post post, Report report, Duration interval, Duration timeout)
    : post_(std::move(post)),
      report_(std::move(report)),
      interval_(interval),
      timeout_(timeout),
      thread_([this] { run(); }) {}

LoopWatchdog::~LoopWatchdog() {
  {
    std::lock_guard lock(beat_->mutex);
    stopping_ = true;
  }
  beat_->answered.notify_all();
  thread_.join();
}

void LoopWatchdog::run() {
  uint64_t posted = 0;
  auto posted_at = std::chrono::steady_clock::now();
  std::unique_lock lock(beat_->mutex);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    if (beat_->last_answered == posted) {
      ++posted;
      posted_at = now;
      lock.unlock();
      post_([beat = beat_, n = posted] {
        std::lock_guard answered(beat->mutex);
        beat->last_answered = n;
        beat->answered.notify_all();
      });
      lock.lock();
    }
    // Sleeps until the next beat is due; an answer to a late beat wakes it at once.
    beat_->answered.wait_for(lock, interval_, [&] {
      return stopping_ || (beat_->last_answered == posted && !alive_.load());
    });
    now = std::chrono::steady_clock::now();
    bool alive = beat_->last_answered == posted || now - posted_at < timeout_;
    if (alive != alive_.load()) {
      alive_.store(alive);
      lock.unlock();
      report_(alive);
      lock.lock();
    }
  }
}

}  // namespace tapstack::server
