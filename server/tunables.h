// Limits on the run-time tunables, shared by the daemon's flags and Stack.UpdateConfig so that
// both accept exactly the same values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stack/tcp/syn_cookies.h"

namespace tapstack::server {

// Linux allows tcp_syn_retries 1..127.
inline constexpr uint32_t kMinSynRetries = 1;
inline constexpr uint32_t kMaxSynRetries = 127;
// The engine doubles the SYN-ACK timeout per retry with no cap; 20 retries is already
// 2^20 s (12 days), and more would overflow its nanosecond arithmetic.
inline constexpr uint32_t kMaxSynackRetries = 20;

// An error message, or nothing if `value` is allowed.
inline std::optional<std::string> check_range(std::string_view what, uint64_t value, uint64_t min,
                                              uint64_t max) {
  if (value >= min && value <= max) return std::nullopt;
  return std::string(what) + " must be " + std::to_string(min) + ".." + std::to_string(max) +
         ", not " + std::to_string(value);
}

inline std::optional<tcp::SynCookieMode> parse_syncookie_mode(std::string_view text) {
  if (text == "never") return tcp::SynCookieMode::kNever;
  if (text == "auto") return tcp::SynCookieMode::kAuto;
  if (text == "always") return tcp::SynCookieMode::kAlways;
  return std::nullopt;
}

inline std::string_view to_string(tcp::SynCookieMode mode) {
  switch (mode) {
    case tcp::SynCookieMode::kNever:
      return "never";
    case tcp::SynCookieMode::kAuto:
      return "auto";
    case tcp::SynCookieMode::kAlways:
      return "always";
  }
  return "?";
}

}  // namespace tapstack::server
