// A Linux TAP device: Ethernet frames in and out through /dev/net/tun. Opening attaches to the
// device, creating it if it does not exist, and sets it up (IFF_UP) so the kernel side of the
// link carries traffic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stack/frame_sink.h"
#include "stack/status.h"

namespace tapstack::link {

// Whether the TAP takes the kernel's offloads (vnet_header.h): with them every frame both ways
// carries a virtio-net header, and the kernel may hand over TCP segments of up to 64 KiB with
// partial checksums. The flag is the device's, not the descriptor's: every descriptor attached
// to one TAP must agree (a later TUNSETIFF without it turns it off for all).
enum class TapOffloads : uint8_t { kOff, kOn };

class TapDevice {
 public:
  // Non-blocking; the caller waits for readability with epoll.
  static Result<TapDevice> open(const std::string& name, TapOffloads offloads = TapOffloads::kOff);
  // `queues` descriptors of one TAP, queue k the k-th (the kernel numbers queues in the order
  // they attach). One queue is open(); more open the device with IFF_MULTI_QUEUE, creating it
  // multi-queue if it does not exist. An existing single-queue TAP cannot take more queues: the
  // error says how to create it multi-queue. A multi-queue TAP whose queues others hold too
  // would number ours after theirs, so the caller must own the device.
  static Result<std::vector<TapDevice>> open_queues(const std::string& name, size_t queues,
                                                    TapOffloads offloads = TapOffloads::kOff);
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;
  ~TapDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // Frames read and written carry a virtio-net header (vnet_header.h).
  bool vnet_header() const { return vnet_header_; }
  // What one read() returned, 0 when nothing was waiting, -1 on error (errno set): a frame, or
  // with vnet_header() a header and a frame (frame_after_vnet_header() takes the frame).
  ssize_t read(std::span<uint8_t> buffer) const;
  // False if the kernel refused the frame (errno set); a TAP never takes part of a frame. The
  // virtio-net header, if the TAP has them, is added here, asking for `offload`; a TAP without
  // them refuses a frame that asks for any.
  bool write(std::span<const uint8_t> frame, const FrameOffload& offload = {}) const;
  // The frames the kernel holds for our reader before it drops what comes (the device's
  // txqueuelen, as `ip link set dev NAME txqueuelen N` sets it; 1000 by default).
  Status set_queue_length(uint32_t frames) const;

 private:
  TapDevice(int fd, std::string name, bool vnet_header)
      : fd_(fd), name_(std::move(name)), vnet_header_(vnet_header) {}
  // Closes the descriptor, turning the offloads off first if we turned them on.
  void close();
  // A new descriptor attached to TAP `name` (TUNSETIFF with IFF_TAP | IFF_NO_PI | `flags`, and
  // IFF_VNET_HDR with the offloads turned on).
  static Result<TapDevice> attach(const std::string& name, short flags, TapOffloads offloads);
  int fd_ = -1;
  std::string name_;
  bool vnet_header_ = false;
};

}  // namespace tapstack::link
