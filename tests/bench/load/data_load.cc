// Kernel TCP clients moving data, for the benchmark's data workloads (tests/bench/run_all.sh):
//   bulk-send  N connections stream to a discard server; goodput is what the server acknowledged
//              (TCP_INFO tcpi_bytes_acked at the deadline), not what sat in our send buffers.
//   bulk-recv  N connections stream to an echo server and read it all back; goodput is what came
//              back. The peers offer only echo and discard, so the server's sending direction is
//              measured this way (it receives as much at the same time).
//   rr-new     N threads each open a connection per transaction: connect, send a request
//              (--size bytes), half-close, read the whole answer and the server's FIN, close.
//   rr-keep    N kept-alive connections, one thread each, doing request/answer in turn.
// Bounded by --seconds and --max-transactions (rr), every socket with 5 s timeouts so a stalled
// server costs failures, never a hung benchmark. Prints one JSON object:
//   {"mode":M,"connections":N,"size":Z,"seconds":T,"bytes":B,"mb_per_s":R,"transactions":X,
//    "rate":Y,"failures":F,"p50_us":..,"p99_us":..,"retransmits":K,"failure_kinds":{..}}
// rate is MB/s (10^6) for bulk and transactions/s for rr; latencies are per transaction (rr,
// from before connect() for rr-new); K sums tcpi_total_retrans over the connections' ends.
// Run it inside the benchmark's client namespace (ip netns exec NS tapstack_data_load ...).
#include <arpa/inet.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_acked (glibc's lacks it)
#include <netinet/in.h>
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

enum class Mode { kBulkSend, kBulkRecv, kRrNew, kRrKeep };

struct Options {
  std::string address = "198.18.0.2";
  int port = 8080;
  Mode mode = Mode::kBulkSend;
  int connections = 1;
  double seconds = 5;
  size_t size = 1024;
  long max_transactions = 10'000'000;
  std::vector<in_addr> sources;
};

constexpr const char* kModeNames[] = {"bulk-send", "bulk-recv", "rr-new", "rr-keep"};
constexpr size_t kChunk = 64 * 1024;

void usage() {
  std::fprintf(
      stderr,
      "usage: tapstack_data_load --mode bulk-send|bulk-recv|rr-new|rr-keep [--address A]\n"
      "                          [--port P] [--connections N] [--seconds S] [--size BYTES]\n"
      "                          [--max-transactions C] [--sources A,B,...]\n"
      "Only addresses in 198.18.0.0/15 are accepted.\n");
}

// Benchmark traffic stays in the test range 198.18.0.0/15.
bool parse_test_address(const std::string& text, in_addr& a) {
  return inet_pton(AF_INET, text.c_str(), &a) == 1 &&
         (ntohl(a.s_addr) & 0xfffe0000u) == 0xc6120000u;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || i + 1 >= argc) return false;
    std::string value = argv[++i];
    if (flag == "--address") {
      o.address = value;
    } else if (flag == "--port") {
      o.port = std::atoi(value.c_str());
    } else if (flag == "--mode") {
      auto* it = std::find(std::begin(kModeNames), std::end(kModeNames), value);
      if (it == std::end(kModeNames)) return false;
      o.mode = static_cast<Mode>(it - std::begin(kModeNames));
    } else if (flag == "--connections") {
      o.connections = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      o.seconds = std::atof(value.c_str());
    } else if (flag == "--size") {
      o.size = static_cast<size_t>(std::atol(value.c_str()));
    } else if (flag == "--max-transactions") {
      o.max_transactions = std::atol(value.c_str());
    } else if (flag == "--sources") {
      std::stringstream in(value);
      std::string item;
      while (std::getline(in, item, ',')) {
        in_addr a{};
        if (!parse_test_address(item, a)) return false;
        o.sources.push_back(a);
      }
    } else {
      return false;
    }
  }
  in_addr a{};
  return parse_test_address(o.address, a) && o.connections > 0 && o.connections <= 256 &&
         o.port > 0 && o.port < 65536 && o.seconds > 0 && o.seconds <= 600 && o.size > 0 &&
         o.size <= kChunk;
}

const char* errno_kind(int e) {
  const char* name = strerrorname_np(e);
  return name != nullptr ? name : "EUNKNOWN";
}

// What every thread shares: the target, the deadline, and the tallies merged at the end.
struct Run {
  Options o;
  sockaddr_in target{};
  Clock::time_point end;
  std::atomic<long> transactions{0};
  std::atomic<long> failures{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> retransmits{0};
  std::mutex mutex;
  std::map<std::string, long> failure_kinds;
  std::vector<uint32_t> latencies_us;

  bool running() const { return Clock::now() < end; }
  void fail(const char* kind) {
    ++failures;
    std::lock_guard lock(mutex);
    ++failure_kinds[kind];
  }
  void add_latencies(const std::vector<uint32_t>& mine) {
    std::lock_guard lock(mutex);
    latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
  }
};

tcp_info info_of(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length);
  return info;
}

// A connected socket with 5 s timeouts (from the `n`th source address in turn), or -1 after
// counting the failure.
int open_connection(Run& r, size_t n) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.fail(errno_kind(errno));
    return -1;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!r.o.sources.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr = r.o.sources[n % r.o.sources.size()];
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      r.fail(errno_kind(errno));
      close(fd);
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&r.target), sizeof r.target) != 0) {
    r.fail(errno_kind(errno));
    close(fd);
    return -1;
  }
  return fd;
}

// Ends a connection with RST (SO_LINGER 0), so no graceful close of megabytes still queued
// outlives the measured interval.
void abort_connection(int fd) {
  linger abort_on_close{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close(fd);
}

// Writes all of `length` bytes; false (counted) on an error or a timeout.
bool write_all(Run& r, int fd, const char* data, size_t length) {
  while (length > 0) {
    ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.fail(errno == EAGAIN ? "SEND_TIMEOUT" : errno_kind(errno));
      return false;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `length` bytes; false (counted) on an error, a timeout or an early EOF.
bool read_exactly(Run& r, int fd, char* data, size_t length) {
  while (length > 0) {
    ssize_t n = recv(fd, data, length, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.fail(n == 0 ? "EARLY_EOF" : errno == EAGAIN ? "RECV_TIMEOUT" : errno_kind(errno));
      return false;
    }
    data += n;
    length -= static_cast<size_t>(n);
  }
  return true;
}

uint32_t micros(Clock::duration d) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// The deadline check needs blocking calls that return in time: a short timeout on both ways.
void tick_timeouts(int fd) {
  timeval tick{0, 200'000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
}

constexpr auto kStall = std::chrono::seconds(5);

// Streams until the deadline; the failure's kind when nothing could be sent for kStall, or the
// send failed, else nullptr.
const char* stream_until_deadline(const Run& r, int fd) {
  std::vector<char> chunk(kChunk, 'x');
  auto progress = Clock::now();
  while (r.running()) {
    ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      progress = Clock::now();
    } else if (errno == EAGAIN || errno == EINTR) {
      if (Clock::now() - progress > kStall) return "SEND_TIMEOUT";
    } else {
      return errno_kind(errno);
    }
  }
  return nullptr;
}

// bulk-send: writes until the deadline; the goodput is what the peer acknowledged by then.
void bulk_send(Run& r, int index) {
  int fd = open_connection(r, static_cast<size_t>(index));
  if (fd < 0) return;
  tick_timeouts(fd);
  if (const char* kind = stream_until_deadline(r, fd)) r.fail(kind);
  tcp_info info = info_of(fd);
  r.bytes += info.tcpi_bytes_acked;
  r.retransmits += info.tcpi_total_retrans;
  abort_connection(fd);
}

// bulk-recv: a writer thread streams to the echo server while this one reads it back; the
// goodput is what came back before the deadline. A stall shows as the reader's failure.
void bulk_recv(Run& r, int index) {
  int fd = open_connection(r, static_cast<size_t>(index));
  if (fd < 0) return;
  tick_timeouts(fd);
  std::thread writer([&r, fd] { stream_until_deadline(r, fd); });
  std::vector<char> buffer(kChunk);
  uint64_t received = 0;
  auto progress = Clock::now();
  while (r.running()) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      received += static_cast<uint64_t>(n);
      progress = Clock::now();
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      if (Clock::now() - progress < kStall) continue;
      r.fail("RECV_TIMEOUT");
    } else {
      r.fail(n == 0 ? "EARLY_EOF" : errno_kind(errno));
    }
    break;
  }
  writer.join();
  r.bytes += received;
  r.retransmits += info_of(fd).tcpi_total_retrans;
  abort_connection(fd);
}

// rr-keep: request and answer in turn on one connection.
void rr_keep(Run& r, int index) {
  int fd = open_connection(r, static_cast<size_t>(index));
  if (fd < 0) return;
  std::vector<char> request(r.o.size, 'q'), answer(r.o.size);
  std::vector<uint32_t> mine;
  while (r.running() && r.transactions.fetch_add(1) < r.o.max_transactions) {
    auto t0 = Clock::now();
    if (!write_all(r, fd, request.data(), request.size()) ||
        !read_exactly(r, fd, answer.data(), answer.size())) {
      break;
    }
    mine.push_back(micros(Clock::now() - t0));
  }
  r.retransmits += info_of(fd).tcpi_total_retrans;
  abort_connection(fd);
  r.add_latencies(mine);
}

// rr-new: a connection per transaction, closed gracefully: the request, our FIN, the answer and
// the server's FIN (an echo server closes once we have finished).
void rr_new(Run& r, int index) {
  std::vector<char> request(r.o.size, 'q'), answer(r.o.size + 1);
  std::vector<uint32_t> mine;
  for (size_t n = static_cast<size_t>(index);
       r.running() && r.transactions.fetch_add(1) < r.o.max_transactions; ++n) {
    auto t0 = Clock::now();
    int fd = open_connection(r, n);
    if (fd < 0) continue;
    bool ok = write_all(r, fd, request.data(), request.size()) && shutdown(fd, SHUT_WR) == 0 &&
              read_exactly(r, fd, answer.data(), r.o.size);
    if (ok) {
      ssize_t extra = recv(fd, answer.data(), 1, 0);  // the server's FIN
      ok = extra == 0;
      if (!ok)
        r.fail(extra > 0 ? "EXTRA_BYTES" : errno == EAGAIN ? "EOF_TIMEOUT" : errno_kind(errno));
    }
    if (ok) mine.push_back(micros(Clock::now() - t0));
    r.retransmits += info_of(fd).tcpi_total_retrans;
    close(fd);
  }
  r.add_latencies(mine);
}

uint32_t percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  Run r;
  if (!parse(argc, argv, r.o)) {
    usage();
    return 2;
  }
  r.target.sin_family = AF_INET;
  r.target.sin_port = htons(static_cast<uint16_t>(r.o.port));
  inet_pton(AF_INET, r.o.address.c_str(), &r.target.sin_addr);
  void (*work)(Run&, int) = nullptr;
  switch (r.o.mode) {
    case Mode::kBulkSend:
      work = bulk_send;
      break;
    case Mode::kBulkRecv:
      work = bulk_recv;
      break;
    case Mode::kRrNew:
      work = rr_new;
      break;
    case Mode::kRrKeep:
      work = rr_keep;
      break;
  }
  auto begin = Clock::now();
  r.end = begin +
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(r.o.seconds));
  std::vector<std::thread> workers;
  for (int i = 0; i < r.o.connections; ++i) workers.emplace_back(work, std::ref(r), i);
  for (auto& w : workers) w.join();
  // Bulk goodput is over the set interval (what was acknowledged or read by the deadline); rr
  // counts completed transactions over the time the threads actually ran.
  bool bulk = r.o.mode == Mode::kBulkSend || r.o.mode == Mode::kBulkRecv;
  double elapsed = bulk ? r.o.seconds : std::chrono::duration<double>(Clock::now() - begin).count();
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  size_t done = r.latencies_us.size();
  uint64_t bytes = bulk ? r.bytes.load() : done * r.o.size * 2;
  double mb_per_s = static_cast<double>(bytes) / elapsed / 1e6;
  std::string kinds = "{";
  for (const auto& [kind, n] : r.failure_kinds) {
    if (kinds.size() > 1) kinds += ",";
    kinds += "\"" + kind + "\":" + std::to_string(n);
  }
  kinds += "}";
  std::printf(
      "{\"mode\":\"%s\",\"connections\":%d,\"size\":%zu,\"seconds\":%.3f,\"bytes\":%llu,"
      "\"mb_per_s\":%.2f,\"transactions\":%zu,\"rate\":%.2f,\"failures\":%ld,\"p50_us\":%u,"
      "\"p99_us\":%u,\"retransmits\":%llu,\"failure_kinds\":%s}\n",
      kModeNames[static_cast<int>(r.o.mode)], r.o.connections, r.o.size, elapsed,
      static_cast<unsigned long long>(bytes), mb_per_s, done,
      bulk ? mb_per_s : static_cast<double>(done) / elapsed, r.failures.load(),
      percentile(r.latencies_us, 0.50), percentile(r.latencies_us, 0.99),
      static_cast<unsigned long long>(r.retransmits.load()), kinds.c_str());
  return 0;
}
