// tapstackd: parses flags, starts the daemon, waits for SIGTERM or SIGINT, shuts it down.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "server/daemon.h"
#include "server/flags.h"
#include "server/log.h"

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
    daemon.shutdown();
  } catch (const std::exception& e) {  // nothing should throw; if it does, say so on one line
    std::fprintf(stderr, "tapstackd: %s\n", e.what());
    return 1;
  }
  return 0;
}
