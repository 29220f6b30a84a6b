#include "server/ctl/args.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "server/ctl/admission_args.h"

namespace tapstack::ctl {
namespace {

struct GlobalFlag {
  std::string_view name;
  bool takes_value;
  void (*set)(GlobalOptions&, const std::string&);
};

void set_output(GlobalOptions& o, const std::string& v) {
  if (v != "json" && v != "text") throw UsageError("-o must be text or json, not '" + v + "'");
  o.json = v == "json";
}

constexpr GlobalFlag kGlobalFlags[] = {
    {"--server", true, [](GlobalOptions& o, const std::string& v) { o.server = v; }},
    {"--tls", false, [](GlobalOptions& o, const std::string&) { o.tls = true; }},
    {"--tls-ca", true, [](GlobalOptions& o, const std::string& v) { o.tls_ca = v; }},
    {"--tls-cert", true, [](GlobalOptions& o, const std::string& v) { o.tls_cert = v; }},
    {"--tls-key", true, [](GlobalOptions& o, const std::string& v) { o.tls_key = v; }},
    {"--tls-server-name", true,
     [](GlobalOptions& o, const std::string& v) { o.tls_server_name = v; }},
    {"--timeout", true,
     [](GlobalOptions& o, const std::string& v) {
       char* end = nullptr;
       double seconds = std::strtod(v.c_str(), &end);
       if (v.empty() || *end != '\0' || seconds < 0) {
         throw UsageError("--timeout needs seconds (0 for none), not '" + v + "'");
       }
       o.timeout_seconds = seconds;
     }},
    {"-o", true, set_output},
    {"--output", true, set_output},
    {"--help", false, [](GlobalOptions& o, const std::string&) { o.help = true; }},
    {"-h", false, [](GlobalOptions& o, const std::string&) { o.help = true; }},
};

}  // namespace

bool Args::take_switch(std::string_view name) {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (*it == name) {
      args_.erase(it);
      return true;
    }
  }
  return false;
}

std::optional<std::string> Args::take_option(std::string_view name) {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    std::string_view arg = *it;
    if (arg == name) {
      if (std::next(it) == args_.end()) throw UsageError(std::string(name) + " needs a value");
      std::string value = *std::next(it);
      args_.erase(it, it + 2);
      return value;
    }
    if (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=') {
      std::string value(arg.substr(name.size() + 1));
      args_.erase(it);
      return value;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Args::next_optional() {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (it->starts_with("-") && it->size() > 1) continue;  // flags are not positionals
    std::string value = *it;
    args_.erase(it);
    return value;
  }
  return std::nullopt;
}

std::string Args::next(std::string_view what) {
  auto value = next_optional();
  if (!value) throw UsageError("missing " + std::string(what));
  return *value;
}

void Args::done() const {
  if (!args_.empty()) throw UsageError("unexpected argument '" + args_.front() + "'");
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  if (const char* env = std::getenv("TAPSTACK_SERVER"); env && *env) cl.global.server = env;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const GlobalFlag* flag = nullptr;
    for (const GlobalFlag& f : kGlobalFlags) {
      if (f.name == arg) flag = &f;
    }
    if (!flag) {
      rest.push_back(argv[i]);
      continue;
    }
    if (flag->takes_value && !has_value) {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      value = argv[++i];
    }
    flag->set(cl.global, value);
  }
  if (!rest.empty()) {
    cl.command = rest.front();
    rest.erase(rest.begin());
  }
  cl.args = Args(std::move(rest));
  return cl;
}

uint64_t parse_number(std::string_view what, std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw UsageError(std::string(what) + " must be a number, not '" + std::string(text) + "'");
  }
  return v;
}

std::chrono::milliseconds parse_duration(std::string_view what, std::string_view text) {
  int64_t unit_ms = 1;
  std::string_view number = text;
  if (text.ends_with("ms")) {
    number.remove_suffix(2);
  } else if (text.ends_with("s")) {
    number.remove_suffix(1);
    unit_ms = 1000;
  } else if (text.ends_with("m")) {
    number.remove_suffix(1);
    unit_ms = 60'000;
  }
  const uint64_t n = parse_number(what, number);
  // Past what the server takes it refuses it; a bound here only keeps the product in range.
  return std::chrono::milliseconds(static_cast<int64_t>(std::min<uint64_t>(n, uint64_t{1} << 40)) *
                                   unit_ms);
}

namespace {

bool is_address(int family, const std::string& text) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(family, text.c_str(), buffer) == 1;
}

}  // namespace

HostPort parse_host_port(std::string_view what, std::string_view text, bool address_required) {
  const std::string w(what);
  const std::string t(text);
  const std::string form = address_required ? "ADDRESS:PORT" : "[ADDRESS:]PORT or ADDRESS";
  HostPort hp;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      throw UsageError(w + " must be [IPV6]:PORT, not '" + t + "'");
    }
    hp.address = text.substr(1, close - 1);
    if (!is_address(AF_INET6, hp.address)) {
      throw UsageError(w + ": '" + hp.address + "' in brackets is not an IPv6 address");
    }
    port = text.substr(close + 2);
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    if (!is_address(AF_INET6, t)) throw UsageError(w + ": '" + t + "' is not an IPv6 address");
    if (address_required) {
      throw UsageError(w + " must be " + form +
                       ": an IPv6 address takes brackets before its port, [" + t + "]:PORT");
    }
    hp.address = t;
    return hp;
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    hp.address = text.substr(0, colon);
    if (!hp.address.empty() && !is_address(AF_INET, hp.address)) {
      throw UsageError(w + ": '" + hp.address + "' is not an IPv4 address");
    }
    port = text.substr(colon + 1);
  } else if (is_address(AF_INET, t) && !address_required) {
    hp.address = t;
    return hp;
  } else if (address_required) {
    throw UsageError(w + " must be " + form + ", not '" + t + "'");
  } else {
    port = text;
  }
  hp.port = static_cast<uint32_t>(parse_number(w + " port", port));
  return hp;
}

std::string host_port_text(const std::string& address, uint32_t port) {
  const bool ipv6 = address.find(':') != std::string::npos;
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string usage() {
  return R"(Usage: tapstackctl [FLAGS] COMMAND [ARGS]
A command-line client of tapstackd's gRPC API (tapstack.v1).

Commands:
  create                          create an endpoint; prints its id (-o json: all of it)
  bind ID [ADDRESS:]PORT|ADDRESS [--v6-only]
                                  bind (port 0 or none: an ephemeral port); ADDRESS is
                                  one of the stack's, 0.0.0.0 (IPv4 peers, the default)
                                  or :: (both families; --v6-only: IPv6 peers only, as
                                  IPV6_V6ONLY); IPv6 takes brackets before a port:
                                  [2001:db8::2]:80, [::]:80
  listen ID [--backlog N] [--syn-backlog N] [POLICY FLAGS]
                                  listen (backlog: tapstackd's --backlog if not given);
                                  with policy flags the admission policy is set at once
  policy show ID                  a listener's admission policy and its counters
  policy set ID POLICY FLAGS      replace the admission policy (unset flags: defaults)
  policy clear ID                 remove it: every SYN is admitted
)" + std::string(kAdmissionFlagsUsage) +
         R"(  connect ID ADDRESS:PORT         connect and wait for the handshake (--timeout);
                                  198.18.0.1:80 or [2001:db8::1]:80
  accept ID                       take a connection from listener ID, waiting (--timeout)
  accept ID --stream [--after keep|close|abort] [--count N] [--max-delay-us N] [--quiet]
                                  stream connections as they come (StreamAccept); --after:
                                  what the server does with each once delivered;
                                  --max-delay-us: how long the server may hold one to send
                                  more with it; --quiet: print only how many were taken
  close ID [--abort]              close gracefully (FIN), or abort (RST)
  keepalive ID IDLE INTERVAL COUNT | keepalive ID off
                                  TCP keepalive in seconds (a listener's connections
                                  inherit it)
  set ID [--nodelay on|off] [--user-timeout DURATION]
                                  connection options (a listener's connections inherit
                                  them): --nodelay on turns Nagle off (TCP_NODELAY);
                                  --user-timeout (TCP_USER_TIMEOUT): how long sent data
                                  may go unacknowledged before the connection is given
                                  up, e.g. 30s, 500ms, 2m (a bare number: ms; 0: off)
  get ID                          show one endpoint in detail
  ls [-l] [-i]                    endpoints as `ss -tan` shows sockets (-l: listeners only):
                                  for a listener Recv-Q is the accept queue and Send-Q the
                                  backlog, Syn-Q the SYN-RCVD table (depth/limit); -i adds
                                  a line per connection as `ss -ti`: congestion control,
                                  rtt:SRTT/RTTVAR and rto in ms, mss (data per segment),
                                  cwnd and ssthresh in bytes (cwnd 0 before any data,
                                  ssthresh - until a loss), bytes_acked, bytes_received,
                                  retrans:BACKOFF/TOTAL, unacked and unsent bytes,
                                  send_wnd (the peer's), rcv_wnd (ours); ooo: bytes held
                                  beyond a hole, and recovery, when there are;
                                  nodelay and user_timeout when set
  rotate-cookie-secret            new SYN-cookie secret (cookies in flight stay valid)
  stats                           counters, drops by reason, endpoints by state, and the
                                  kernel cookie path per listening port
  config [KEY=VALUE...]           show the configuration, or change tunables:
                                  syncookies=never|auto|always, syn_retries=N,
                                  synack_retries=N, abort_on_overflow=true|false
  watch [ID] [--queue N]          stream events (about ID and its connections) until Ctrl-C;
                                  a connection's CLOSED and TIME-WAIT events show its final
                                  figures as ls -i does
  health                          the daemon's health (SERVING / NOT_SERVING)
  capture [--listener ID|--port P] [--peer PREFIX] [--tuple LOCAL:PORT,REMOTE:PORT]
          [--all|--handshake] [--count N] [--duration D] [--ring-bytes N] -w FILE|-
                                  write the frames crossing the link to a pcap file (-w -:
                                  stdout, for `| tcpdump -r -`), both directions, byte for
                                  byte; --listener: a listener and its connections; --port:
                                  our TCP port; --peer: the peer's address or prefix;
                                  --tuple: one connection; none of these: every frame (ARP
                                  and ICMP too); --handshake: only SYNs, RSTs and each
                                  handshake's final ACK (default --all); stops after N
                                  frames, after D (30s, 2m), or at Ctrl-C; --ring-bytes:
                                  the server's buffer per engine loop (default 4 MiB).
                                  Prints "capturing" once in place, and at the end how many
                                  frames were captured and lost (a slow reader loses frames
                                  rather than slowing the stack)
  nc ADDRESS:PORT                 connect, copy stdin to the connection (its write side shut
                                  at stdin's end) and the connection to stdout; exits at
                                  the connection's end of stream
  cat ID                          a connection's bytes to stdout, until its end of stream
  send ID [--keep-open]           stdin to a connection, then shut its write side (unless
                                  --keep-open)

Flags (anywhere on the line):
  --server HOST:PORT|unix:PATH    tapstackd's gRPC address (default $TAPSTACK_SERVER, or
                                  127.0.0.1:50051)
  --tls                           use TLS, trusting the system's CAs unless --tls-ca
  --tls-ca FILE                   CA certificate(s) to trust (implies --tls)
  --tls-cert FILE, --tls-key FILE client certificate and key, for mutual TLS (implies --tls)
  --tls-server-name NAME          expect this name in the server's certificate
  --timeout SECONDS               deadline of each call, default 10; 0 for none
  -o, --output text|json          output format; json prints protobuf JSON (proto field
                                  names), one object per line
  -h, --help                      this help

Exit status: 0 on success; a failed call exits with its gRPC status code (e.g. 5 NOT_FOUND,
6 ALREADY_EXISTS, 9 FAILED_PRECONDITION, 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED) after printing
"tapstackctl: CODE: message" on stderr; 64 for a usage error.
)";
}

}  // namespace tapstack::ctl
