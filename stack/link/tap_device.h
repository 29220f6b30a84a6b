// A Linux TAP device: Ethernet frames in and out through /dev/net/tun. Opening attaches to the
// device, creating it if it does not exist, and sets it up (IFF_UP) so the kernel side of the
// link carries traffic.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "stack/status.h"

namespace tapstack::link {

class TapDevice {
 public:
  // Non-blocking; the caller waits for readability with epoll.
  static Result<TapDevice> open(const std::string& name);
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
  int fd_ = -1;
  std::string name_;
};

}  // namespace tapstack::link
