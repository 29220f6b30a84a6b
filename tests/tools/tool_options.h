// The command line of the test tools: "--name value" pairs, --help, and switches without a
// value. One loop for every tool, so they answer bad options alike.
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string_view>

namespace tapstack::tools {

// Walks argv: `apply(name, value)` takes each "--name value" pair (false: bad or unknown);
// `is_switch(name)` takes an option that has no value (true if it was one). Returns the exit
// code when the tool must stop now (0 after --help, 2 after printing a bad option), nothing
// when every option was taken.
inline std::optional<int> parse_options(
    int argc, char** argv, std::string_view tool, const char* usage,
    const std::function<bool(std::string_view, std::string_view)>& apply,
    const std::function<bool(std::string_view)>& is_switch = [](std::string_view) {
      return false;
    }) {
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    if (name == "--help" || name == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (is_switch(name)) continue;
    if (i + 1 >= argc || !apply(name, argv[i + 1])) {
      std::fprintf(stderr, "%.*s: bad or incomplete option '%s'\n\n%s",
                   static_cast<int>(tool.size()), tool.data(), argv[i], usage);
      return 2;
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace tapstack::tools
