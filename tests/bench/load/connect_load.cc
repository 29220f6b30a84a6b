// Kernel TCP clients for the end-to-end benchmark and the soak test: N threads open connections
// as fast as they can to one address and end each one in one of three ways (--close):
//   rst     abort with RST (SO_LINGER 0), so no TIME-WAIT anywhere limits the rate (default);
//   client  close first with FIN (the client side keeps TIME-WAIT; the soak sets tcp_tw_reuse);
//   server  HTTP/1.0 style: read until the server's FIN (EOF), then close, so TIME-WAIT lands on
//           the server, across as many tuples as --sources gives it.
// With --sources A,B,... each connection binds the next source address in turn (the addresses
// must be on the client's interface). Bounded by a duration and a total count. Prints one JSON
// object:
//   {"close":"rst","sources":S,"threads":N,"connections":C,"failures":F,"seconds":T,"rate":R,
//    "p50_us":..,"p99_us":..,"max_us":..,"p50_eof_us":..,"p99_eof_us":..,"retransmitted":K,
//    "max_syn_retransmits":M,"failure_kinds":{"ETIMEDOUT":n,...}}
// Latencies are connect()'s; the *_eof_us ones (server mode) run from connect() to the EOF.
// K connections needed at least one SYN retransmission, none more than M (TCP_INFO).
// Run it inside the benchmark's client namespace (ip netns exec NS tapstack_connect_load ...).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class CloseMode { kRst, kClient, kServer };

struct Options {
  std::string address = "198.18.0.2";
  int port = 8080;
  int threads = 1;
  double seconds = 5;
  long max_connections = 2'000'000;
  CloseMode close = CloseMode::kRst;
  std::vector<in_addr> sources;
};

const char* mode_name(CloseMode m) {
  switch (m) {
    case CloseMode::kClient:
      return "client";
    case CloseMode::kServer:
      return "server";
    case CloseMode::kRst:
      break;
  }
  return "rst";
}

void usage() {
  std::fprintf(
      stderr,
      "usage: tapstack_connect_load [--address A] [--port P] [--threads N] [--seconds S]\n"
      "                             [--max-connections C] [--close rst|client|server]\n"
      "                             [--sources A,B,...]\n"
      "Opens and closes connections in a loop from N threads for S seconds or C connections;\n"
      "--close: abort with RST, close first with FIN, or wait for the server's FIN (EOF).\n"
      "Only addresses in 198.18.0.0/15 and 2001:db8::/32 (no --sources) are accepted.\n");
}

// Benchmark traffic stays in the test range 198.18.0.0/15.
bool parse_test_address(const std::string& text, in_addr& a) {
  return inet_pton(AF_INET, text.c_str(), &a) == 1 &&
         (ntohl(a.s_addr) & 0xfffe0000u) == 0xc6120000u;
}

// Or, for IPv6, in the documentation prefix 2001:db8::/32.
bool parse_test_address6(const std::string& text, in6_addr& a) {
  return inet_pton(AF_INET6, text.c_str(), &a) == 1 && a.s6_addr[0] == 0x20 &&
         a.s6_addr[1] == 0x01 && a.s6_addr[2] == 0x0d && a.s6_addr[3] == 0xb8;
}

bool parse_sources(const std::string& list, std::vector<in_addr>& out) {
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    in_addr a{};
    if (!parse_test_address(item, a)) return false;
    out.push_back(a);
  }
  return !out.empty();
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help") return false;
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--address") {
      o.address = value;
    } else if (flag == "--port") {
      o.port = std::atoi(value.c_str());
    } else if (flag == "--threads") {
      o.threads = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      o.seconds = std::atof(value.c_str());
    } else if (flag == "--max-connections") {
      o.max_connections = std::atol(value.c_str());
    } else if (flag == "--close") {
      if (value == "rst")
        o.close = CloseMode::kRst;
      else if (value == "client")
        o.close = CloseMode::kClient;
      else if (value == "server")
        o.close = CloseMode::kServer;
      else
        return false;
    } else if (flag == "--sources") {
      if (!parse_sources(value, o.sources)) return false;
    } else {
      return false;
    }
  }
  in_addr a{};
  in6_addr a6{};
  const bool ipv6 = parse_test_address6(o.address, a6);
  if (!ipv6 && !parse_test_address(o.address, a)) return false;
  if (ipv6 && !o.sources.empty()) return false;
  return o.threads > 0 && o.threads <= 64 && o.port > 0 && o.port < 65536 && o.seconds > 0 &&
         o.seconds <= 3600;
}

// Failures by errno name ("ETIMEDOUT", "ECONNREFUSED", "EOF_TIMEOUT" for a server that never
// closed), merged from every thread at the end.
class FailureKinds {
 public:
  void add(const char* kind) {
    std::lock_guard lock(mutex_);
    ++counts_[kind];
  }
  std::string json() const {
    std::string out = "{";
    for (const auto& [kind, n] : counts_) {
      if (out.size() > 1) out += ",";
      out += "\"" + kind + "\":" + std::to_string(n);
    }
    return out + "}";
  }

 private:
  std::mutex mutex_;
  std::map<std::string, long> counts_;
};

const char* errno_kind(int e) {
  const char* name = strerrorname_np(e);
  return name != nullptr ? name : "EUNKNOWN";
}

// Reads until the peer's FIN; false (with the reason in `kind`) on a reset or a timeout.
bool read_to_eof(int fd, const char*& kind) {
  char buffer[512];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    kind = (errno == EAGAIN || errno == EWOULDBLOCK) ? "EOF_TIMEOUT" : errno_kind(errno);
    return false;
  }
}

struct Percentiles {
  std::vector<uint32_t> all;
  explicit Percentiles(std::vector<std::vector<uint32_t>>& per_thread) {
    for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
  }
  uint32_t at(double p) const {
    return all.empty() ? 0u
                       : all[std::min(all.size() - 1,
                                      static_cast<size_t>(p * static_cast<double>(all.size())))];
  }
  uint32_t max() const { return all.empty() ? 0u : all.back(); }
};

uint32_t micros(Clock::duration d) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  sockaddr_storage target{};
  socklen_t target_length = sizeof(sockaddr_in);
  if (in6_addr a6{}; inet_pton(AF_INET6, o.address.c_str(), &a6) == 1) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(target);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<uint16_t>(o.port));
    v6.sin6_addr = a6;
    target_length = sizeof v6;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(target);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET, o.address.c_str(), &v4.sin_addr);
  }

  std::atomic<long> started{0};
  std::atomic<long> failures{0};
  std::atomic<long> retransmitted{0};
  std::atomic<uint32_t> max_syn_retransmits{0};
  FailureKinds kinds;
  std::vector<std::vector<uint32_t>> latencies(static_cast<size_t>(o.threads));
  std::vector<std::vector<uint32_t>> eof_latencies(static_cast<size_t>(o.threads));
  auto begin = Clock::now();
  auto end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> workers;
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = latencies[static_cast<size_t>(t)];
      auto& mine_eof = eof_latencies[static_cast<size_t>(t)];
      mine.reserve(1 << 20);
      linger abort_on_close{1, 0};
      timeval timeout{5, 0};  // a lost SYN costs a retransmission, never a hung benchmark
      int one = 1;
      for (long n = 0; Clock::now() < end && started.fetch_add(1) < o.max_connections; ++n) {
        auto fail = [&](const char* kind) {
          ++failures;
          kinds.add(kind);
        };
        int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          fail(errno_kind(errno));
          continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (!o.sources.empty()) {
          // Threads start at different sources and each walks all of them.
          sockaddr_in local{};
          local.sin_family = AF_INET;
          local.sin_addr = o.sources[static_cast<size_t>(t + n) % o.sources.size()];
          // The port is chosen at connect(), per 4-tuple, not per source address.
          setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
          if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            fail(errno_kind(errno));
            close(fd);
            continue;
          }
        }
        auto t0 = Clock::now();
        if (connect(fd, reinterpret_cast<sockaddr*>(&target), target_length) != 0) {
          fail(errno_kind(errno));
          close(fd);
          continue;
        }
        mine.push_back(micros(Clock::now() - t0));
        tcp_info info{};
        socklen_t length = sizeof info;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
            info.tcpi_total_retrans > 0) {
          ++retransmitted;
          uint32_t seen = max_syn_retransmits.load();
          while (info.tcpi_total_retrans > seen &&
                 !max_syn_retransmits.compare_exchange_weak(seen, info.tcpi_total_retrans)) {
          }
        }
        if (o.close == CloseMode::kRst) {
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        } else if (o.close == CloseMode::kServer) {
          const char* kind = nullptr;
          if (read_to_eof(fd, kind)) {
            mine_eof.push_back(micros(Clock::now() - t0));
          } else {
            fail(kind);
            mine.pop_back();  // not a completed connection
          }
        }
        close(fd);
      }
    });
  }
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  Percentiles connect_us(latencies);
  Percentiles eof_us(eof_latencies);
  std::printf(
      "{\"close\":\"%s\",\"sources\":%zu,\"threads\":%d,\"connections\":%zu,\"failures\":%ld,"
      "\"seconds\":%.3f,\"rate\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,"
      "\"p50_eof_us\":%u,\"p99_eof_us\":%u,\"retransmitted\":%ld,\"max_syn_retransmits\":%u,"
      "\"failure_kinds\":%s}\n",
      mode_name(o.close), o.sources.size(), o.threads, connect_us.all.size(), failures.load(),
      elapsed, static_cast<double>(connect_us.all.size()) / elapsed, connect_us.at(0.50),
      connect_us.at(0.99), connect_us.max(), eof_us.at(0.50), eof_us.at(0.99), retransmitted.load(),
      max_syn_retransmits.load(), kinds.json().c_str());
  return 0;
}
