#include "server/log.h"

#include <grpc/support/log.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace tapstack::server {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

void grpc_log(gpr_log_func_args* args) {
  log(LogLevel::kDebug, std::string("grpc: ") + args->message);
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel level : {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo, LogLevel::kDebug}) {
    if (text == level_name(level)) return level;
  }
  if (text == "warn") return LogLevel::kWarning;
  return std::nullopt;
}

void set_log_level(LogLevel level) {
  g_level.store(level);
}

bool log_enabled(LogLevel level) {
  return level <= g_level.load(std::memory_order_relaxed);
}

void log(LogLevel level, const std::string& message) {
  if (!log_enabled(level)) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  localtime_r(&now.tv_sec, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  // One fprintf per line, so lines from different threads do not interleave.
  std::fprintf(stderr, "%s.%03ld tapstackd %s: %s\n", stamp, now.tv_nsec / 1'000'000,
               level_name(level), message.c_str());
}

void route_grpc_logs() {
  // Below debug level gRPC's messages are dropped anyway: let gRPC skip formatting them.
  gpr_set_log_verbosity(log_enabled(LogLevel::kDebug) ? GPR_LOG_SEVERITY_INFO
                                                      : GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(grpc_log);
}

}  // namespace tapstack::server
