// tapstackctl's command line: global flags (anywhere on the line), then a command and its
// arguments.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tapstack::ctl {

// Exit codes that are not a gRPC status code (those are 1..16).
inline constexpr int kExitUsage = 64;  // EX_USAGE

struct GlobalOptions {
  std::string server = "127.0.0.1:50051";  // or $TAPSTACK_SERVER
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  double timeout_seconds = 10;  // per call; Connect and Accept wait this long; 0: no deadline
  bool json = false;
  bool help = false;
};

// A mistake on the command line; main prints it with the usage and exits kExitUsage.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A command's own arguments: positionals, plus flags it takes out by name.
class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {}
  // Removes a switch ("-l", "--abort"); true if it was there.
  bool take_switch(std::string_view name);
  // Removes "--name VALUE" or "--name=VALUE".
  std::optional<std::string> take_option(std::string_view name);
  // The next positional argument; UsageError naming `what` if there is none.
  std::string next(std::string_view what);
  std::optional<std::string> next_optional();
  // UsageError if anything is left.
  void done() const;

 private:
  std::vector<std::string> args_;
};

struct CommandLine {
  GlobalOptions global;
  std::string command;  // empty: none given
  Args args{{}};
};

// Throws UsageError.
CommandLine parse_command_line(int argc, const char* const* argv);
std::string usage();

// Numbers and addresses in arguments (UsageError if malformed).
uint64_t parse_number(std::string_view what, std::string_view text);
// "30s", "500ms", "2m" or a bare number of milliseconds (as Linux's TCP_USER_TIMEOUT).
std::chrono::milliseconds parse_duration(std::string_view what, std::string_view text);
struct HostPort {
  std::string address;  // empty when only a port was given
  uint32_t port = 0;    // 0 when only an address was given
};
// "A.B.C.D:PORT" or "[IPV6]:PORT"; unless `address_required`, also "PORT" alone or an address
// alone ("198.18.0.2", "2001:db8::2", "::"). An IPv6 address takes brackets before a port
// (RFC 5952 §6): "2001:db8::2:80" is an address.
HostPort parse_host_port(std::string_view what, std::string_view text, bool address_required);
// "198.18.0.2:80" or "[2001:db8::2]:80", as parse_host_port reads it.
std::string host_port_text(const std::string& address, uint32_t port);

}  // namespace tapstack::ctl
