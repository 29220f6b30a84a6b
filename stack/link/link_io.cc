#include "stack/link/link_io.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "stack/link/epoll_link_io.h"
#include "stack/link/uring_link_io.h"
#include "stack/link/vnet_header.h"

namespace tapstack::link {

LinkIo::LinkIo(const TapDevice& tap, BusyPoll busy_poll) : tap_(tap), spin_(busy_poll) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
}

LinkIo::~LinkIo() {
  ::close(wake_fd_);
}

void LinkIo::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void LinkIo::drain_wake() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
}

Time LinkIo::spin_until(std::optional<Time> deadline) {
  Time from = input_since_wait_ ? monotonic_now() : last_input_;
  input_since_wait_ = false;
  return spin_.until(from, deadline);
}

void LinkIo::deliver_read(const TapDevice& tap, std::span<uint8_t> bytes, Handler& handler) {
  if (!tap.vnet_header()) {
    handler.on_frame(bytes, RxChecksum::kUnverified);
    return;
  }
  // A header the kernel wrote is never malformed; a frame behind one that is would be garbage.
  if (auto read = frame_after_vnet_header(bytes); !read.frame.empty()) {
    handler.on_frame(read.frame, read.checksum);
  }
}

int LinkIo::timeout_ms(std::optional<Time> deadline) {
  if (!deadline) return -1;
  auto wait = std::chrono::duration_cast<milliseconds>(*deadline - monotonic_now()).count();
  return static_cast<int>(std::clamp<int64_t>(wait + 1, 0, 60'000));
}

std::unique_ptr<LinkIo> make_link_io(const TapDevice& tap, const LinkOptions& options) {
  if (options.kind != LinkKind::kEpoll) {
    if (auto uring = UringLinkIo::create(tap, options.busy_poll)) return uring;
    if (options.kind == LinkKind::kUring) {
      throw std::runtime_error("io_uring is not available here");
    }
  }
  return std::make_unique<EpollLinkIo>(tap, options.busy_poll);
}

}  // namespace tapstack::link
