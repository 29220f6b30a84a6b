// A Linux TAP device: Ethernet frames in and out through /dev/net/tun. Opening attaches to the
// device, creating it if it does not exist, and sets it up (IFF_UP) so the kernel side of the
// link carries traffic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stack/status.h"

namespace tapstack::link {

class TapDevice {
 public:
  // Non-blocking; the caller waits for readability with epoll.
  static Result<TapDevice> open(const std::string& name);
  // `queues` descriptors of one TAP, queue k the k-th (the kernel numbers queues in the order
  // they attach). One queue is open(); more open the device with IFF_MULTI_QUEUE, creating it
  // multi-queue if it does not exist. An existing single-queue TAP cannot take more queues: the
  // error says how to create it multi-queue. A multi-queue TAP whose queues others hold too
  // would number ours after theirs, so the caller must own the device.
  static Result<std::vector<TapDevice>> open_queues(const std::string& name, size_t queues);
  TapDevice(TapDevice&& other) noexcept;
  TapDevice& operator=(TapDevice&& other) noexcept;
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;
  ~TapDevice();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // A frame's length, 0 when there is none waiting, -1 on error (errno set).
  ssize_t read(std::span<uint8_t> buffer) const;
  // False if the kernel refused the frame (errno set); a TAP never takes part of a frame.
  bool write(std::span<const uint8_t> frame) const;
  // The frames the kernel holds for our reader before it drops what comes (the device's
  // txqueuelen, as `ip link set dev NAME txqueuelen N` sets it; 1000 by default).
  Status set_queue_length(uint32_t frames) const;

 private:
  TapDevice(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  // A new descriptor attached to TAP `name` (TUNSETIFF with IFF_TAP | IFF_NO_PI | `flags`).
  static Result<TapDevice> attach(const std::string& name, short flags);
  int fd_ = -1;
  std::string name_;
};

}  // namespace tapstack::link
