// The daemon's log: one line per message on stderr, filtered by --log-level. gRPC's own log
// is routed here at debug level so that a startup error stays one clear line.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tapstack::server {

enum class LogLevel { kError, kWarning, kInfo, kDebug };

std::optional<LogLevel> parse_log_level(std::string_view text);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log(LogLevel level, const std::string& message);

inline void log_error(const std::string& message) {
  log(LogLevel::kError, message);
}
inline void log_warning(const std::string& message) {
  log(LogLevel::kWarning, message);
}
inline void log_info(const std::string& message) {
  log(LogLevel::kInfo, message);
}
inline void log_debug(const std::string& message) {
  log(LogLevel::kDebug, message);
}

// Sends gRPC's internal messages through log() at debug level.
void route_grpc_logs();

}  // namespace tapstack::server
