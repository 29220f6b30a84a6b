#include "stack/link/epoll_link_io.h"

#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

namespace tapstack::link {
namespace {
constexpr int kFramesPerWake = 64;  // then commands and timers get their turn
}  // namespace

EpollLinkIo::EpollLinkIo(const TapDevice& tap, BusyPoll busy_poll)
    : LinkIo(tap, busy_poll), buffer_(std::make_unique_for_overwrite<uint8_t[]>(kMaxFrameSize)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = tap_.fd();
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, tap_.fd(), &ev);
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EpollLinkIo::~EpollLinkIo() {
  ::close(epoll_fd_);
}

void EpollLinkIo::wait(std::optional<Time> deadline, Handler& handler) {
  std::array<epoll_event, 2> events;
  const int capacity = static_cast<int>(events.size());
  int ready = 0;
  if (Time until = spin_until(deadline); monotonic_now() < until) {
    do {
      ready = epoll_wait(epoll_fd_, events.data(), capacity, 0);
      if (ready == 0) sched_yield();  // as UringLinkIo::spin does
    } while (ready == 0 && monotonic_now() < until);
    spun(ready > 0);
  }
  if (ready == 0) ready = epoll_wait(epoll_fd_, events.data(), capacity, timeout_ms(deadline));
  if (ready > 0) note_input();
  for (int i = 0; i < ready; ++i) {
    if (events[static_cast<size_t>(i)].data.fd == wake_fd_) {
      drain_wake();
      handler.on_wake();
      continue;
    }
    for (int f = 0; f < kFramesPerWake; ++f) {
      ssize_t n = tap_.read({buffer_.get(), kMaxFrameSize});
      if (n <= 0) break;
      deliver_read(tap_, {buffer_.get(), static_cast<size_t>(n)}, handler);
    }
  }
}

}  // namespace tapstack::link
