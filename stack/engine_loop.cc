#include "stack/engine_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

namespace tapstack {
namespace {
constexpr int kFramesPerWake = 64;   // then commands and timers get their turn
constexpr size_t kMaxFrame = 65536;  // a TAP may hand up GSO-sized frames
}  // namespace

EngineLoop::EngineLoop(const EngineConfig& config, link::TapDevice tap, uint64_t seed)
    : tap_(std::move(tap)), sink_(tap_), engine_(config, sink_, seed, monotonic_now()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("epoll/eventfd failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = tap_.fd();
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tap_.fd(), &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EngineLoop::~EngineLoop() {
  stop();
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

void EngineLoop::set_event_handler(tcp::Tcp::EventHandler handler) {
  engine_.set_event_handler(std::move(handler));
}

void EngineLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void EngineLoop::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void EngineLoop::post(std::function<void(Engine&)> fn) {
  if (std::this_thread::get_id() == loop_thread_.load(std::memory_order_relaxed)) {
    deferred_.push_back(std::move(fn));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void EngineLoop::run_commands() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
  std::vector<std::function<void(Engine&)>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(commands_);
  }
  engine_.advance(monotonic_now());  // commands act at the current time
  for (auto& fn : batch) {
    fn(engine_);
    run_deferred();
  }
}

void EngineLoop::run_deferred() {
  // Deferred work may defer more; index rather than iterate, as the vector may grow.
  for (size_t i = 0; i < deferred_.size(); ++i) {
    auto fn = std::move(deferred_[i]);
    fn(engine_);
  }
  deferred_.clear();
}

void EngineLoop::read_frames() {
  static thread_local std::array<uint8_t, kMaxFrame> buffer;
  for (int i = 0; i < kFramesPerWake; ++i) {
    ssize_t n = tap_.read(buffer);
    if (n <= 0) return;
    engine_.receive_frame({buffer.data(), static_cast<size_t>(n)}, monotonic_now());
    run_deferred();
  }
}

void EngineLoop::run() {
  loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  std::array<epoll_event, 2> events;
  while (true) {
    int timeout_ms = -1;
    if (auto deadline = engine_.next_deadline()) {
      auto wait = std::chrono::duration_cast<milliseconds>(*deadline - monotonic_now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait + 1, 0, 60'000));
    }
    int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < ready; ++i) {
      if (events[static_cast<size_t>(i)].data.fd == tap_.fd()) {
        read_frames();
      } else {
        run_commands();
      }
    }
    engine_.advance(monotonic_now());
    run_deferred();
    if (stopping_.load()) {
      run_commands();
      return;
    }
  }
}

}  // namespace tapstack
