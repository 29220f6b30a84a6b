#include "stack/link/tap_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>

#include "stack/link/vnet_header.h"

namespace tapstack::link {
namespace {

Status system_error(const std::string& what) {
  return error(ErrorCode::kUnavailable, what + ": " + strerror(errno));
}

// Runs `change` on an ordinary socket with an ifreq naming the interface, as `ip link` does.
template <class Change>
Status change_interface(const std::string& name, Change change) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return system_error("socket");
  ifreq ifr{};
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  Status status = change(sock, ifr);
  ::close(sock);
  return status;
}

// Sets IFF_UP, as `ip link set dev NAME up` does.
Status bring_up(const std::string& name) {
  return change_interface(name, [&](int sock, ifreq& ifr) {
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return system_error("reading flags of " + name);
    if (ifr.ifr_flags & IFF_UP) return Status::ok();
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) return system_error("setting " + name + " up");
    return Status::ok();
  });
}

Status check_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return error(ErrorCode::kInvalidArgument, "TAP name must be 1-15 characters: '" + name + "'");
  }
  return Status::ok();
}

}  // namespace

Result<TapDevice> TapDevice::attach(const std::string& name, short flags, TapOffloads offloads) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return system_error("opening /dev/net/tun");
  const bool vnet = offloads == TapOffloads::kOn;
  if (vnet) flags = static_cast<short>(flags | IFF_VNET_HDR);
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | flags);
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    const int err = errno;
    Status s = system_error("attaching to TAP " + name);
    // tun_set_iff refuses a queue whose IFF_MULTI_QUEUE differs from the device's.
    if (err == EINVAL && (flags & IFF_MULTI_QUEUE)) {
      s.message += " (is it a single-queue TAP? create it with `ip tuntap add dev " + name +
                   " mode tap multi_queue`)";
    }
    ::close(fd);
    return s;
  }
  // What we can take from the kernel: checksums left partial, and TCP segments its TSO or GRO
  // made, up to 64 KiB (ECN's CWR rides on them as on any segment).
  if (vnet && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0) {
    Status s = system_error("turning on the offloads of TAP " + name);
    ::close(fd);
    return s;
  }
  return TapDevice(fd, ifr.ifr_name, vnet);
}

Result<TapDevice> TapDevice::open(const std::string& name, TapOffloads offloads) {
  if (Status valid = check_name(name); !valid.is_ok()) return valid;
  auto tap = attach(name, 0, offloads);
  if (!tap.is_ok()) return tap;
  if (Status up = bring_up(tap->name_); !up.is_ok()) return up;
  return tap;
}

Result<std::vector<TapDevice>> TapDevice::open_queues(const std::string& name, size_t queues,
                                                      TapOffloads offloads) {
  std::vector<TapDevice> taps;
  if (queues == 1) {
    auto tap = open(name, offloads);
    if (!tap.is_ok()) return tap.status();
    taps.push_back(std::move(tap.value()));
    return taps;
  }
  if (Status valid = check_name(name); !valid.is_ok()) return valid;
  if (queues == 0) return error(ErrorCode::kInvalidArgument, "a TAP needs at least one queue");
  for (size_t k = 0; k < queues; ++k) {
    auto tap = attach(name, IFF_MULTI_QUEUE, offloads);
    if (!tap.is_ok()) return tap.status();
    taps.push_back(std::move(tap.value()));
  }
  if (Status up = bring_up(taps.front().name_); !up.is_ok()) return up;
  return taps;
}

Status TapDevice::set_queue_length(uint32_t frames) const {
  return change_interface(name_, [&](int sock, ifreq& ifr) {
    ifr.ifr_qlen = static_cast<int>(frames);
    if (ioctl(sock, SIOCSIFTXQLEN, &ifr) < 0) {
      return system_error("setting the queue of " + name_ + " to " + std::to_string(frames));
    }
    return Status::ok();
  });
}

TapDevice::TapDevice(TapDevice&& other) noexcept
    : fd_(other.fd_), name_(std::move(other.name_)), vnet_header_(other.vnet_header_) {
  other.fd_ = -1;
}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    name_ = std::move(other.name_);
    vnet_header_ = other.vnet_header_;
    other.fd_ = -1;
  }
  return *this;
}

TapDevice::~TapDevice() {
  close();
}

void TapDevice::close() {
  if (fd_ < 0) return;
  // A persistent TAP keeps the offloads we turned on after we go: its next reader without
  // IFF_VNET_HDR would get TSO frames of 64 KiB and checksums left partial, with nothing to
  // say so (gVisor's netstack then drops every segment). They go off with us.
  if (vnet_header_) ioctl(fd_, TUNSETOFFLOAD, 0);
  ::close(fd_);
  fd_ = -1;
}

ssize_t TapDevice::read(std::span<uint8_t> buffer) const {
  ssize_t n = ::read(fd_, buffer.data(), buffer.size());
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return n;
}

bool TapDevice::write(std::span<const uint8_t> frame, const FrameOffload& offload) const {
  if (!vnet_header_) {
    if (offload.any()) {
      errno = EINVAL;
      return false;
    }
    return ::write(fd_, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size());
  }
  std::array<uint8_t, kVnetHeaderSize> header;
  write_vnet_header(header, offload);
  const std::array<iovec, 2> parts{iovec{header.data(), header.size()},
                                   iovec{const_cast<uint8_t*>(frame.data()), frame.size()}};
  return ::writev(fd_, parts.data(), 2) == static_cast<ssize_t>(header.size() + frame.size());
}

}  // namespace tapstack::link
