// LinkIo over epoll with read() and write() per frame: works wherever a TAP does.
#pragma once

#include <memory>

#include "stack/link/link_io.h"

namespace tapstack::link {

class EpollLinkIo final : public LinkIo {
 public:
  EpollLinkIo(const TapDevice& tap, BusyPoll busy_poll);
  ~EpollLinkIo() override;
  void wait(std::optional<Time> deadline, Handler& handler) override;
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload& offload) override {
    return tap_.write(frame, offload);
  }
  std::string_view name() const override { return "epoll"; }

 private:
  int epoll_fd_ = -1;
  // One frame as read, kMaxFrameSize bytes: on the heap, as a thread_local that size would sit
  // in every thread's static TLS, on stacks as small as a web server's workers.
  std::unique_ptr<uint8_t[]> buffer_;
};

}  // namespace tapstack::link
