#include "stack/link/uring_link_io.h"

#include <fcntl.h>

#include <cstring>
#include <stdexcept>

namespace tapstack::link {
namespace {

constexpr uint64_t kRxTag = uint64_t{1} << 32;
constexpr uint64_t kWakeTag = uint64_t{2} << 32;
constexpr uint64_t kTxTag = uint64_t{3} << 32;
constexpr uint64_t kTagMask = ~uint64_t{0xffffffff};

}  // namespace

std::unique_ptr<UringLinkIo> UringLinkIo::create(const TapDevice& tap) {
  // Probe with a throwaway ring: io_uring may be compiled out or blocked by seccomp.
  io_uring probe;
  if (io_uring_queue_init(4, &probe, 0) != 0) return nullptr;
  io_uring_queue_exit(&probe);
  return std::unique_ptr<UringLinkIo>(new UringLinkIo(tap));
}

UringLinkIo::UringLinkIo(const TapDevice& tap)
    : LinkIo(tap), rx_buffer_(kMaxFrameSize), tx_slots_(kTxSlots) {
  free_tx_.reserve(kTxSlots);
  for (size_t i = 0; i < kTxSlots; ++i) free_tx_.push_back(static_cast<uint16_t>(kTxSlots - 1 - i));
  // io_uring parks a read on a blocking file until data comes; on a non-blocking one it would
  // complete at once with -EAGAIN.
  int flags = fcntl(tap_.fd(), F_GETFL);
  fcntl(tap_.fd(), F_SETFL, flags & ~O_NONBLOCK);
}

UringLinkIo::~UringLinkIo() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
  int flags = fcntl(tap_.fd(), F_GETFL);
  fcntl(tap_.fd(), F_SETFL, flags | O_NONBLOCK);
}

void UringLinkIo::ensure_ring() {
  if (ring_ready_) return;
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(kEntries, &ring_, &params) != 0) {
    params = {};  // kernels before 6.1
    if (io_uring_queue_init_params(kEntries, &ring_, &params) != 0) {
      throw std::runtime_error("io_uring setup failed");
    }
  }
  ring_ready_ = true;
}

io_uring_sqe* UringLinkIo::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {
    io_uring_submit(&ring_);  // the submission queue is full: hand it over, keep going
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void UringLinkIo::arm_reads() {
  if (!rx_armed_) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, tap_.fd(), rx_buffer_.data(), static_cast<unsigned>(rx_buffer_.size()),
                       0);
    io_uring_sqe_set_data64(sqe, kRxTag);
    rx_armed_ = true;
  }
  if (!wake_armed_) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, kWakeTag);
    wake_armed_ = true;
  }
}

bool UringLinkIo::send_frame(std::span<const uint8_t> frame) {
  ensure_ring();
  if (frame.size() > kTxSlotSize || free_tx_.empty()) {
    // Out of slots (a burst, say a listener resetting its queue): send what is queued first,
    // then this frame directly, so frames leave in the order they were made.
    io_uring_submit(&ring_);
    return tap_.write(frame);
  }
  uint16_t slot = free_tx_.back();
  free_tx_.pop_back();
  std::memcpy(tx_slots_[slot].data(), frame.data(), frame.size());
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_write(sqe, tap_.fd(), tx_slots_[slot].data(), static_cast<unsigned>(frame.size()),
                      0);
  io_uring_sqe_set_data64(sqe, kTxTag | slot);
  return true;
}

void UringLinkIo::wait(std::optional<Time> deadline, Handler& handler) {
  ensure_ring();
  arm_reads();
  io_uring_cqe* cqe = nullptr;
  if (deadline) {
    Duration left = std::max(Duration::zero(), *deadline - monotonic_now());
    __kernel_timespec ts{};
    ts.tv_sec = std::chrono::duration_cast<seconds>(left).count();
    ts.tv_nsec = (left - seconds(ts.tv_sec)).count();
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  } else {
    io_uring_submit_and_wait(&ring_, 1);
  }
  // Completions are copied out first: handlers queue writes, which must not meet a CQ entry
  // that is still being read.
  std::array<std::pair<uint64_t, int32_t>, 64> done;
  size_t n = 0;
  unsigned head;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (n == done.size()) break;
    done[n++] = {io_uring_cqe_get_data64(cqe), cqe->res};
  }
  io_uring_cq_advance(&ring_, static_cast<unsigned>(n));
  for (size_t i = 0; i < n; ++i) {
    auto [tag, res] = done[i];
    switch (tag & kTagMask) {
      case kRxTag:
        rx_armed_ = false;
        if (res > 0) handler.on_frame({rx_buffer_.data(), static_cast<size_t>(res)});
        break;
      case kWakeTag:
        wake_armed_ = false;
        handler.on_wake();
        break;
      default:
        free_tx_.push_back(static_cast<uint16_t>(tag & 0xffff));
        if (res < 0) ++write_errors_;
        break;
    }
  }
}

}  // namespace tapstack::link
