// tapstackd: parses flags, starts the daemon, waits for SIGTERM or SIGINT, shuts it down.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "server/daemon.h"
#include "server/flags.h"
#include "server/log.h"

namespace {

// Ends the process (exit status 3, with one log line) if a shutdown takes longer than it
// possibly can when everything works: past --shutdown-grace and the time the watchdog needs to
// see a wedged loop, something is stuck, and waiting longer only delays the restart.
class ShutdownBound {
 public:
  explicit ShutdownBound(tapstack::Duration limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (done_cv_.wait_for(lock, limit, [this] { return done_; })) return;
          tapstack::server::log_error(
              "shutdown did not finish within " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) +
              " s; exiting");
          std::_Exit(3);
        }) {}
  ~ShutdownBound() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace tapstack::server;
  ParsedFlags parsed = parse_flags(argc, argv);
  if (parsed.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "tapstackd: %s (see --help)\n", parsed.error.c_str());
    return 2;
  }
  set_log_level(parsed.options.log_level);
  route_grpc_logs();

  // Blocked in every thread (threads inherit the mask), taken by the main thread alone.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a scraper or client hanging up is not a reason to die

  try {
    Daemon daemon(parsed.options);
    if (tapstack::Status s = daemon.start(); !s.is_ok()) {
      std::fprintf(stderr, "tapstackd: %s\n", s.message.c_str());
      return 1;
    }
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    ShutdownBound bound(parsed.options.shutdown_grace + parsed.options.loop_stall_timeout +
                        tapstack::seconds(5));
    if (!daemon.shutdown()) std::_Exit(3);  // a wedged loop: its thread cannot be joined
  } catch (const std::exception& e) {       // nothing should throw; if it does, say so on one line
    std::fprintf(stderr, "tapstackd: %s\n", e.what());
    return 1;
  }
  return 0;
}
