// Kernel TCP clients for the end-to-end benchmark: N threads connect as fast as they can to one
// address and abort each connection with RST (SO_LINGER 0), so no client TIME-WAIT limits the
// rate. Bounded by a duration and a total count. Prints one JSON object:
//   {"threads":N,"connections":C,"failures":F,"seconds":S,"rate":R,"p50_us":..,"p99_us":..,
//    "max_us":..,"retransmitted":K,"max_syn_retransmits":M}
// K connections needed at least one SYN retransmission, none more than M (TCP_INFO).
// Run it inside the benchmark's client namespace (ip netns exec NS tapstack_connect_load ...).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string address = "198.18.0.2";
  int port = 8080;
  int threads = 1;
  double seconds = 5;
  long max_connections = 2'000'000;
};

void usage() {
  std::fprintf(
      stderr,
      "usage: tapstack_connect_load [--address A] [--port P] [--threads N]\n"
      "                             [--seconds S] [--max-connections C]\n"
      "Connects and aborts (RST) in a loop from N threads for S seconds or C connections.\n"
      "Only addresses in 198.18.0.0/15 are accepted.\n");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help") return false;
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--address")
      o.address = value;
    else if (flag == "--port")
      o.port = std::atoi(value.c_str());
    else if (flag == "--threads")
      o.threads = std::atoi(value.c_str());
    else if (flag == "--seconds")
      o.seconds = std::atof(value.c_str());
    else if (flag == "--max-connections")
      o.max_connections = std::atol(value.c_str());
    else
      return false;
  }
  in_addr a{};
  if (inet_pton(AF_INET, o.address.c_str(), &a) != 1) return false;
  // Benchmark traffic stays in the test range 198.18.0.0/15.
  if ((ntohl(a.s_addr) & 0xfffe0000u) != 0xc6120000u) return false;
  return o.threads > 0 && o.threads <= 64 && o.port > 0 && o.port < 65536 && o.seconds > 0 &&
         o.seconds <= 600;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    usage();
    return 2;
  }
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(o.port));
  inet_pton(AF_INET, o.address.c_str(), &target.sin_addr);

  std::atomic<long> started{0};
  std::atomic<long> failures{0};
  std::atomic<long> retransmitted{0};
  std::atomic<uint32_t> max_syn_retransmits{0};
  std::vector<std::vector<uint32_t>> latencies(static_cast<size_t>(o.threads));
  auto begin = Clock::now();
  auto end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> workers;
  for (int t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      auto& mine = latencies[static_cast<size_t>(t)];
      mine.reserve(1 << 20);
      linger abort_on_close{1, 0};
      timeval timeout{5, 0};  // a lost SYN costs a retransmission, never a hung benchmark
      while (Clock::now() < end && started.fetch_add(1) < o.max_connections) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          ++failures;
          continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        auto t0 = Clock::now();
        bool ok = connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0;
        auto t1 = Clock::now();
        if (ok) {
          mine.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
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
        } else {
          ++failures;
        }
        close(fd);
      }
    });
  }
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  std::vector<uint32_t> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0u
                       : all[std::min(all.size() - 1,
                                      static_cast<size_t>(p * static_cast<double>(all.size())))];
  };
  std::printf(
      "{\"threads\":%d,\"connections\":%zu,\"failures\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
      "\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"retransmitted\":%ld,"
      "\"max_syn_retransmits\":%u}\n",
      o.threads, all.size(), failures.load(), elapsed, static_cast<double>(all.size()) / elapsed,
      pct(0.50), pct(0.99), all.empty() ? 0u : all.back(), retransmitted.load(),
      max_syn_retransmits.load());
  return 0;
}
