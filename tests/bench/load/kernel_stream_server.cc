#include "tests/bench/load/kernel_stream_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <unordered_map>
#include <vector>

namespace tapstack::bench {
namespace {

constexpr size_t kBuffer = 64 * 1024;

// Echo's unsent bytes: while any are left the connection waits to be writable, not readable,
// so the peer's sending is held back by our receive window as with the other servers.
struct Pending {
  std::vector<char> bytes;
  size_t sent = 0;
  bool awaiting_writable = false;
};

class Loop {
 public:
  Loop(int listen_fd, StreamMode mode) : listen_fd_(listen_fd), mode_(mode) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
  }
  ~Loop() {
    for (auto& [fd, _] : pending_) close(fd);
    close(epoll_);
  }

  long run(const std::atomic<bool>& stop) {
    epoll_event events[64];
    while (!stop) {
      int n = epoll_wait(epoll_, events, 64, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
        } else if (events[i].events & EPOLLOUT) {
          flush(fd);
        } else {
          serve(fd);
        }
      }
    }
    return accepted_;
  }

 private:
  void watch(int fd, uint32_t events, int op) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    epoll_ctl(epoll_, op, fd, &e);
  }

  void accept_all() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      ++accepted_;
      pending_[fd];
      watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
  }

  void finish(int fd) {
    pending_.erase(fd);
    close(fd);  // also leaves the epoll set
  }

  // Readable: read once; echo writes it back, keeping what the socket did not take.
  void serve(int fd) {
    ssize_t n = read(fd, buffer_, sizeof buffer_);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      finish(fd);
      return;
    }
    if (n < 0 || mode_ == StreamMode::kDiscard) return;
    Pending& p = pending_[fd];
    p.bytes.assign(buffer_, buffer_ + n);
    p.sent = 0;
    flush(fd);
  }

  // Sends what is pending; waits for writable while some is left, for readable once none is.
  void flush(int fd) {
    Pending& p = pending_[fd];
    while (p.sent < p.bytes.size()) {
      ssize_t n = send(fd, p.bytes.data() + p.sent, p.bytes.size() - p.sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!p.awaiting_writable) watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
        p.awaiting_writable = true;
        return;
      }
      if (n < 0) {
        finish(fd);
        return;
      }
      p.sent += static_cast<size_t>(n);
    }
    p.bytes.clear();
    if (p.awaiting_writable) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
    p.awaiting_writable = false;
  }

  const int listen_fd_;
  const StreamMode mode_;
  int epoll_;
  long accepted_ = 0;
  std::unordered_map<int, Pending> pending_;
  char buffer_[kBuffer];
};

}  // namespace

long serve_streams(int listen_fd, StreamMode mode, const std::atomic<bool>& stop) {
  // The listening socket turns non-blocking so that accept_all() drains it and returns.
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  auto loop = std::make_unique<Loop>(listen_fd, mode);
  return loop->run(stop);
}

}  // namespace tapstack::bench
