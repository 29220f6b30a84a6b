// The Linux kernel's own listener for the end-to-end benchmark: accepts on ADDRESS:PORT and
// closes every connection at once, like the gVisor peer (MODE close, the default), or serves
// each in an epoll loop per socket, echoing or discarding what it reads (MODE echo, discard;
// kernel_stream_server.h) for the data workloads. Runs until SIGINT/SIGTERM, then prints
// how many it accepted. Run it in the server namespace (ip netns exec NS tapstack_kernel_listener).
//
// THREADS (default 1) accept threads, each on its own listening socket of one SO_REUSEPORT
// group: the kernel at the same scale as a TAP server with one loop per queue. With 1 the
// socket is bound without SO_REUSEPORT, as before the option existed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/bench/load/kernel_stream_server.h"

namespace {
std::atomic<bool> stop{false};
void on_signal(int) {
  stop = true;
}

// A listening socket on `a`, in the SO_REUSEPORT group when `reuse_port`; -1 on failure.
int listen_on(const sockaddr_in& a, bool reuse_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
    std::perror("listen");
    close(fd);
    return -1;
  }
  return fd;
}

long accept_until_stopped(int fd) {
  long accepted = 0;
  while (!stop) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    ++accepted;
    close(c);
  }
  return accepted;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr,
                 "usage: tapstack_kernel_listener ADDRESS PORT [THREADS [close|echo|discard]]\n");
    return 2;
  }
  const int threads = argc >= 4 ? std::atoi(argv[3]) : 1;
  // No stream mode: close every connection at once.
  std::optional<tapstack::bench::StreamMode> streams;
  const std::string_view mode = argc == 5 ? argv[4] : "close";
  if (mode == "echo") {
    streams = tapstack::bench::StreamMode::kEcho;
  } else if (mode == "discard") {
    streams = tapstack::bench::StreamMode::kDiscard;
  } else if (mode != "close") {
    std::fprintf(stderr, "MODE must be close, echo or discard\n");
    return 2;
  }
  auto serve = [&](int fd) {
    return streams ? tapstack::bench::serve_streams(fd, *streams, stop) : accept_until_stopped(fd);
  };
  if (threads < 1 || threads > 1024) {
    std::fprintf(stderr, "THREADS must be 1..1024\n");
    return 2;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad IPv4 %s\n", argv[1]);
    return 2;
  }
  std::vector<int> fds;
  for (int i = 0; i < threads; ++i) {
    int fd = listen_on(a, threads > 1);
    if (fd < 0) return 1;
    fds.push_back(fd);
  }
  // SIGINT/SIGTERM go to the main thread only (the accept threads block them); it then shuts the
  // other sockets down, which fails their accept() now and every later one (no wake-up to miss);
  // stream loops see `stop` within their 100 ms epoll timeout.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: accept() returns EINTR and the loop ends
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::vector<long> accepted(fds.size() - 1);
  std::vector<std::thread> workers;
  for (size_t i = 1; i < fds.size(); ++i)
    workers.emplace_back([&, i] { accepted[i - 1] = serve(fds[i]); });
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  long total = serve(fds[0]);
  for (size_t i = 1; i < fds.size(); ++i) shutdown(fds[i], SHUT_RDWR);
  for (auto& w : workers) w.join();
  for (long n : accepted) total += n;
  std::printf("accepted=%ld\n", total);
  return 0;
}
