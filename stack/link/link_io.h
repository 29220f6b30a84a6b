// How the loop thread waits for and moves frames on its TAP device. Two ways, the same contract:
// - EpollLinkIo: epoll_wait, then read() per frame and write() per frame sent.
// - UringLinkIo: io_uring, where one io_uring_enter both sends what the last frames produced
//   and waits for the next frame, so a frame in and its answer out cost one system call
//   instead of three or four. Chosen by default when the kernel allows io_uring (container
//   seccomp profiles often do not); epoll is the fallback.
// Both sleep until a frame arrives, a deadline passes, or another thread calls wake(); with a
// busy-poll window they first spin that long without sleeping, as DPDK-style stacks do, so a
// frame that comes soon after the last is picked up without a wake-up (the thread's scheduling
// latency is most of a handshake's round trip on an idle core).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "stack/clock.h"
#include "stack/frame_sink.h"
#include "stack/link/spin_window.h"
#include "stack/link/tap_device.h"

namespace tapstack::link {

// Read buffers hold this much: the kernel side's MTU may be raised past ours, and with the
// offloads a frame is a TCP segment of up to 64 KiB (the TAP's gso_max_size) behind its
// virtio-net header. A multiple of the page size.
inline constexpr size_t kMaxFrameSize = 68 * 1024;

enum class LinkKind { kAuto, kEpoll, kUring };

struct LinkOptions {
  LinkKind kind = LinkKind::kAuto;  // kAuto tries io_uring and falls back to epoll
  BusyPoll busy_poll{};
};

class LinkIo : public FrameSink {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_frame(std::span<const uint8_t> frame, RxChecksum checksum) = 0;
    virtual void on_wake() = 0;  // wake() was called
  };

  ~LinkIo() override;
  // Waits for input until `deadline` (none: until there is some), delivers what came to
  // `handler`, and returns. Frames sent from the handler go out no later than the next wait.
  virtual void wait(std::optional<Time> deadline, Handler& handler) = 0;
  // Safe from any thread.
  void wake();
  // On the thread that calls wait(), after its last wait: let go of the device.
  virtual void shutdown() {}
  // Frames the kernel refused after send_frame() had taken them (asynchronous sends).
  uint64_t take_write_errors() { return std::exchange(write_errors_, 0); }
  virtual std::string_view name() const = 0;
  // The busy-poll window (it adapts with --busy-poll-us auto) and what its spins caught.
  const SpinWindow& spin_window() const { return spin_; }

 protected:
  LinkIo(const TapDevice& tap, BusyPoll busy_poll);
  // Until when a wait with `deadline` spins (in the past: it does not spin). The window runs
  // from the start of the first wait after input, once that input has been handled (however
  // long that took), and from the input itself for later waits: a timer's wait-up does not
  // start a spin, and a window shorter than the handling of a frame still gets its spins.
  Time spin_until(std::optional<Time> deadline);
  // A wait calls this after a spin that ran (to its end, or until input came).
  void spun(bool caught) { spin_.spun(caught); }
  // A wait calls this when it delivered input: the busy-poll window starts again.
  void note_input() {
    last_input_ = monotonic_now();
    input_since_wait_ = true;
  }
  // Hands what one read of the TAP returned to `handler`: the frame, after its virtio-net
  // header when the TAP has them.
  static void deliver_read(const TapDevice& tap, std::span<uint8_t> bytes, Handler& handler);
  // Milliseconds until `deadline` for a poll-style timeout: -1 for none, rounded up.
  static int timeout_ms(std::optional<Time> deadline);
  void drain_wake();

  const TapDevice& tap_;
  SpinWindow spin_;
  Time last_input_{};
  bool input_since_wait_ = false;  // the last wait delivered input
  int wake_fd_ = -1;
  uint64_t write_errors_ = 0;
};

std::unique_ptr<LinkIo> make_link_io(const TapDevice& tap, const LinkOptions& options);

}  // namespace tapstack::link
