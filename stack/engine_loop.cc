#include "stack/engine_loop.h"

namespace tapstack {

EngineLoop::EngineLoop(const EngineConfig& config, link::TapDevice tap, tcp::KeySource keys,
                       const link::LinkOptions& io)
    : tap_(std::move(tap)),
      io_(link::make_link_io(tap_, io)),
      engine_(config, *io_, keys, monotonic_now()) {}

EngineLoop::~EngineLoop() {
  stop();
}

void EngineLoop::set_event_handler(tcp::Tcp::EventHandler handler,
                                   tcp::Tcp::FiguresWanted figures_wanted) {
  engine_.set_event_handler(std::move(handler), std::move(figures_wanted));
}

void EngineLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void EngineLoop::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  io_->wake();
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
  io_->wake();
}

void EngineLoop::on_frame(std::span<const uint8_t> frame, RxChecksum checksum) {
  engine_.receive_frame(frame, monotonic_now(), checksum);
  run_deferred();
}

void EngineLoop::on_wake() {
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

void EngineLoop::run() {
  loop_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  while (true) {
    io_->wait(engine_.next_deadline(), *this);
    engine_.advance(monotonic_now());
    run_deferred();
    engine_.note_link_write_errors(io_->take_write_errors());
    if (stopping_.load()) {
      on_wake();                          // commands posted before stop() still run
      io_->wait(monotonic_now(), *this);  // and what they sent leaves
      // Here, not in the destructor: a ring with a single issuer takes its cancellations only
      // from this thread, and from any other the reads would linger until the ring is gone.
      io_->shutdown();
      return;
    }
  }
}

}  // namespace tapstack
