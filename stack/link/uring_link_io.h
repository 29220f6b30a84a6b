// LinkIo over io_uring. One read is kept armed on the TAP (one, so frames are handed over in
// the order they came), one on the wake eventfd; frames sent are copied into slots and queued
// as writes, which the next io_uring_enter submits while it waits for the next frame.
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
  static std::unique_ptr<UringLinkIo> create(const TapDevice& tap);
  ~UringLinkIo() override;

  void wait(std::optional<Time> deadline, Handler& handler) override;
  bool send_frame(std::span<const uint8_t> frame) override;
  std::string_view name() const override { return "io_uring"; }

 private:
  static constexpr unsigned kEntries = 1024;
  static constexpr size_t kTxSlots = 512;
  static constexpr size_t kTxSlotSize = 2048;  // what we send is far smaller: control segments

  explicit UringLinkIo(const TapDevice& tap);
  // The ring is set up on the loop thread, the only one that ever submits, so the kernel may
  // run completions at the next wait instead of interrupting it (SINGLE_ISSUER, DEFER_TASKRUN).
  void ensure_ring();
  io_uring_sqe* next_sqe();
  void arm_reads();

  io_uring ring_{};
  bool ring_ready_ = false;
  bool rx_armed_ = false;
  bool wake_armed_ = false;
  std::vector<uint8_t> rx_buffer_;
  uint64_t wake_value_ = 0;
  std::vector<std::array<uint8_t, kTxSlotSize>> tx_slots_;
  std::vector<uint16_t> free_tx_;
};

}  // namespace tapstack::link
