// The event loop that owns one Engine and its TAP device: reads frames, runs the commands the
// control plane posts, advances timers, and writes frames, all on one thread. Other threads
// talk to it only by posting closures (woken through an eventfd), so the packet path takes no
// lock; the queue's mutex is touched only when a command is actually waiting.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "stack/engine.h"
#include "stack/link/link_io.h"
#include "stack/link/tap_device.h"

namespace tapstack {

class EngineLoop : private link::LinkIo::Handler {
 public:
  EngineLoop(const EngineConfig& config, link::TapDevice tap, tcp::KeySource keys,
             const link::LinkOptions& io = {});
  ~EngineLoop() override;
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Runs on the loop thread for every event; set it before start().
  void set_event_handler(tcp::Tcp::EventHandler handler,
                         tcp::Tcp::FiguresWanted figures_wanted = {});
  void start();
  // Stops the thread; commands still queued are run first. Idempotent.
  void stop();

  // Runs `fn(engine)` on the loop thread, soon. Safe from any thread. From the loop thread
  // itself (an event handler, say) it runs after the current frame or command, never inside the
  // engine call that is under way, and costs neither a lock nor a system call.
  void post(std::function<void(Engine&)> fn);

  // Runs `fn(engine)` on the loop thread and returns its result to the caller.
  template <class F>
  auto call(F&& fn) -> std::invoke_result_t<F, Engine&> {
    using R = std::invoke_result_t<F, Engine&>;
    auto task = std::make_shared<std::packaged_task<R(Engine&)>>(std::forward<F>(fn));
    auto result = task->get_future();
    post([task](Engine& engine) { (*task)(engine); });
    return result.get();
  }

  // Counters may be read from any thread (see Stats).
  const Stats& stats() const { return engine_.stats(); }
  const EngineConfig& config() const { return engine_.config(); }
  const std::string& tap_name() const { return tap_.name(); }
  // "io_uring" or "epoll".
  std::string_view io_name() const { return io_->name(); }
  // Busy polling (--busy-poll-us): its counts from any thread, its length on the loop thread.
  const link::SpinWindow& busy_poll() const { return io_->spin_window(); }

 private:
  void on_frame(std::span<const uint8_t> frame, RxChecksum checksum) override;
  void on_wake() override;
  void run();
  void run_deferred();

  link::TapDevice tap_;
  std::unique_ptr<link::LinkIo> io_;
  Engine engine_;
  std::mutex mutex_;
  std::vector<std::function<void(Engine&)>> commands_;
  std::vector<std::function<void(Engine&)>> deferred_;  // posted by the loop thread itself
  std::atomic<std::thread::id> loop_thread_{};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tapstack
