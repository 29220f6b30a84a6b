// LinkIo over io_uring. The TAP is read by one multishot read into a ring of provided buffers
// (Linux 6.7+; one read at a time before that), so a single io_uring_enter hands over every
// frame that has arrived, in order; the wake eventfd has a read of its own. Frames sent are
// copied into slots and queued as writes, which the next io_uring_enter submits while it waits.
#pragma once

#include <liburing.h>

#include <array>
#include <memory>
#include <vector>

#include "stack/link/link_io.h"

namespace tapstack::link {

class UringLinkIo final : public LinkIo {
 public:
  // Null when this kernel or its seccomp profile does not allow io_uring.
  static std::unique_ptr<UringLinkIo> create(const TapDevice& tap, BusyPoll busy_poll);
  ~UringLinkIo() override;
  // Cancels the reads and waits for them, so that the TAP is free the moment this returns
  // (a ring torn down with requests in flight releases its files later, asynchronously).
  void shutdown() override;

  void wait(std::optional<Time> deadline, Handler& handler) override;
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload& offload) override;
  std::string_view name() const override { return "io_uring"; }

 private:
  static constexpr unsigned kEntries = 1024;
  static constexpr size_t kTxSlots = 512;
  // What we send is mostly one segment of at most --mtu behind its virtio-net header; larger
  // frames (a --mtu past it, TSO's segments of up to 64 KiB) are written directly, one system
  // call for tens of segments' worth.
  static constexpr size_t kTxSlotSize = 2048;
  static constexpr unsigned kRxBuffers = 64;  // a power of two, as the buffer ring needs
  static constexpr size_t kRxBufferSize = kMaxFrameSize;

  UringLinkIo(const TapDevice& tap, BusyPoll busy_poll);
  // The ring is set up on the loop thread, the only one that ever submits (SINGLE_ISSUER).
  void ensure_ring();
  io_uring_sqe* next_sqe();
  // Submits what is queued, then polls the completion queue without sleeping until `until`;
  // true if completions are ready.
  bool spin(Time until);
  // A read's or a wake's completion waits in the completion queue (not only a write's).
  bool input_ready();
  void arm_reads();
  bool arm_multishot_read();
  bool arm_single_read();
  // A frame read into `buffer` (a provided buffer's id, or -1 for the single-read buffer).
  void deliver(int buffer, int32_t length, Handler& handler);

  io_uring ring_{};
  bool ring_ready_ = false;
  bool rx_armed_ = false;
  bool wake_armed_ = false;
  bool multishot_ = true;  // until the kernel says it has no multishot read
  io_uring_buf_ring* rx_ring_ = nullptr;
  // kRxBuffers × kRxBufferSize, the first for single reads. Not zeroed: a page is backed only
  // once the kernel writes a frame into it, so small frames cost a page per buffer, not 68 KiB.
  std::unique_ptr<uint8_t[]> rx_buffers_;
  uint64_t wake_value_ = 0;
  std::vector<std::array<uint8_t, kTxSlotSize>> tx_slots_;
  std::vector<uint16_t> free_tx_;
};

}  // namespace tapstack::link
