#include "tests/tools/syn_flood.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <thread>
#include <vector>

#include "stack/link/tap_queue_drops.h"
#include "stack/random.h"
#include "tests/tools/tcp_frames.h"

namespace tapstack::tools {
namespace {

constexpr uint32_t kMaxBatch = 1024;

Status system_error(const std::string& what) {
  return error(ErrorCode::kUnavailable, what + ": " + strerror(errno));
}

bool inside(const Ipv4Subnet& outer, const Ipv4Subnet& inner) {
  return inner.prefix >= outer.prefix && outer.contains(inner.address);
}

Result<MacAddress> interface_mac(int fd, const std::string& name) {
  ifreq ifr{};
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) return system_error("reading the MAC of " + name);
  return MacAddress::from(reinterpret_cast<const uint8_t*>(ifr.ifr_hwaddr.sa_data));
}

// A random host of `prefix`, avoiding its network and broadcast addresses when it has them.
Ipv4Address random_host(const Ipv4Subnet& prefix, Random& random) {
  uint32_t hosts = ~prefix.mask();
  uint32_t base = prefix.address.value & prefix.mask();
  if (hosts < 3) return {base | (static_cast<uint32_t>(random.next()) & hosts)};
  return {base | (1 + static_cast<uint32_t>(random.next() % (hosts - 1)))};
}

// Frames of either kind fit in a slot this big.
constexpr size_t kMaxFrameSize = std::max(kSynFrameSize, kAckFrameSize);
using FrameSlot = std::array<uint8_t, kMaxFrameSize>;

size_t frame_size(FloodKind kind) {
  return kind == FloodKind::kSyn ? kSynFrameSize : kAckFrameSize;
}

// Writes SYNs (or bare ACKs) from random sources, ports, sequence and acknowledgment numbers
// and timestamps.
class SpoofedSource {
 public:
  SpoofedSource(const SynFloodConfig& config, const MacAddress& source_mac)
      : kind_(config.kind), sources_(config.sources), random_(config.seed) {
    segment_.source_mac = source_mac;
    segment_.destination_mac = config.destination_mac;
    segment_.destination = config.destination;
    segment_.destination_port = config.destination_port;
  }
  void write(FrameSlot& out) {
    uint64_t r = random_.next();
    uint64_t t = random_.next();
    segment_.source = random_host(sources_, random_);
    segment_.source_port = static_cast<uint16_t>(1024 + (r & 0xffff) % (65536 - 1024));
    segment_.seq = static_cast<uint32_t>(r >> 32);
    segment_.tsval = static_cast<uint32_t>(t);
    segment_.ip_id = static_cast<uint16_t>(r >> 16);
    if (kind_ == FloodKind::kSyn) {
      write_syn_frame(std::span(out).first<kSynFrameSize>(), segment_);
      return;
    }
    // A forged cookie ACK: its acknowledgment number is the cookie, its TSecr the options the
    // cookie's SYN-ACK would have carried in TSval.
    uint64_t a = random_.next();
    segment_.ack = static_cast<uint32_t>(a);
    segment_.tsecr = static_cast<uint32_t>(a >> 32);
    write_ack_frame(std::span(out).first<kAckFrameSize>(), segment_);
  }

 private:
  FloodKind kind_;
  Ipv4Subnet sources_;
  Random random_;
  ClientSegment segment_;
};

// The frames of one sendmmsg call, with their message headers pointing at them once.
class Batch {
 public:
  Batch(uint32_t size, size_t frame_size, const sockaddr_ll& link)
      : link_(link), frames_(size), iov_(size) {
    messages_.resize(size);
    for (uint32_t i = 0; i < size; ++i) {
      iov_[i] = {frames_[i].data(), frame_size};
      msghdr& m = messages_[i].msg_hdr;
      m.msg_name = &link_;
      m.msg_namelen = sizeof link_;
      m.msg_iov = &iov_[i];
      m.msg_iovlen = 1;
    }
  }
  FrameSlot& frame(size_t i) { return frames_[i]; }
  mmsghdr* messages() { return messages_.data(); }

 private:
  sockaddr_ll link_;
  std::vector<FrameSlot> frames_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> messages_;
};

}  // namespace

Status require_own_network_namespace() {
  struct stat self {};
  if (stat("/proc/self/ns/net", &self) != 0) return system_error("reading /proc/self/ns/net");
  auto same = [&](const struct stat& other) {
    return other.st_dev == self.st_dev && other.st_ino == self.st_ino;
  };
  // PID 1's namespace is the host's (or the container's) own: never that one. It may not be
  // readable without CAP_SYS_PTRACE; the check below stands on its own then.
  if (struct stat init{}; stat("/proc/1/ns/net", &init) == 0 && same(init)) {
    return error(ErrorCode::kFailedPrecondition,
                 "this is PID 1's network namespace; run under `ip netns exec NS`");
  }
  // `ip netns add` mounts each namespace it makes at /run/netns/NAME (`ip netns identify`).
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    if (struct stat ns{}; stat(entry.path().c_str(), &ns) == 0 && same(ns)) return Status::ok();
  }
  return error(ErrorCode::kFailedPrecondition,
               "not inside a namespace made by `ip netns add`; run under `ip netns exec NS` "
               "(tests/integration/in_netns.sh makes one)");
}

double SynFloodReport::packets_per_second() const {
  double secs = std::chrono::duration<double>(elapsed).count();
  return secs > 0 ? static_cast<double>(sent) / secs : 0;
}

double SynFloodReport::offered_per_second() const {
  double secs = std::chrono::duration<double>(elapsed).count();
  return secs > 0 ? static_cast<double>(sent + refused) / secs : 0;
}

Status check_syn_flood(const SynFloodConfig& config) {
  if (!kBenchmarkRange.contains(config.destination)) {
    return error(ErrorCode::kInvalidArgument, "destination " + config.destination.to_string() +
                                                  " is outside " + kBenchmarkRange.to_string());
  }
  if (!inside(kBenchmarkRange, config.sources)) {
    return error(ErrorCode::kInvalidArgument, "source prefix " + config.sources.to_string() +
                                                  " is outside " + kBenchmarkRange.to_string());
  }
  if (config.sources.contains(config.destination)) {
    return error(ErrorCode::kInvalidArgument,
                 "source prefix " + config.sources.to_string() + " contains the destination " +
                     config.destination.to_string() + "; spoofed sources must be off-link");
  }
  if (config.batch == 0 || config.batch > kMaxBatch) {
    return error(ErrorCode::kInvalidArgument, "batch must be 1..1024");
  }
  if (Status ns = require_own_network_namespace(); !ns.is_ok()) return ns;
  if (if_nametoindex(config.interface.c_str()) == 0) {
    return error(ErrorCode::kNotFound, "no interface '" + config.interface +
                                           "' in this network namespace; refusing to send");
  }
  return Status::ok();
}

Result<SynFloodReport> run_syn_flood(const SynFloodConfig& config, const std::atomic<bool>* stop) {
  if (Status ok = check_syn_flood(config); !ok.is_ok()) return ok;
  // Protocol 0: a send-only socket, so it is not handed a copy of every frame on the link.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return system_error("AF_PACKET socket");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (config.bypass_qdisc) {
    // A full queue is then reported (ENOBUFS) rather than a frame dropped behind the qdisc.
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  }
  auto source_mac = interface_mac(fd, config.interface);
  if (!source_mac.is_ok()) return source_mac.status();

  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(ETH_P_IP);
  link.sll_ifindex = static_cast<int>(if_nametoindex(config.interface.c_str()));
  Batch batch(config.batch, frame_size(config.kind), link);
  SpoofedSource frames(config, *source_mac);

  SynFloodReport report;
  const uint64_t dropped_before = link::tap_queue_drops(config.interface).value_or(0);
  uint32_t built = 0;  // frames in the batch
  uint32_t next = 0;   // the first of them the kernel has not taken yet
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + config.max_duration;
  while (report.sent + report.refused < config.max_packets &&
         !(stop && stop->load(std::memory_order_relaxed))) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (next == built) {
      if (config.rate > 0) {
        // Pacing, not synchronisation: the next batch may not leave before its time.
        uint64_t offered = report.sent + report.refused;
        auto due = start + std::chrono::nanoseconds(offered * 1'000'000'000 / config.rate);
        if (due > now) std::this_thread::sleep_until(std::min(due, deadline));
      }
      built = static_cast<uint32_t>(
          std::min<uint64_t>(config.batch, config.max_packets - report.sent - report.refused));
      for (uint32_t i = 0; i < built; ++i) frames.write(batch.frame(i));
      next = 0;
    }
    const uint32_t offered = built - next;
    int sent = sendmmsg(fd, batch.messages() + next, offered, 0);
    if (sent < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
      return system_error("sendmmsg");
    }
    const uint32_t taken = sent < 0 ? 0 : static_cast<uint32_t>(sent);
    next += taken;
    report.sent += taken;
    if (taken < offered) {
      // sendmmsg stops at the first frame the TAP refuses (its queue was full, or a filter
      // dropped it); it returns the error only when that frame came first in the call.
      ++report.send_errors;
      if (config.resend_refused) {
        // Offer it again, and the CPU to the engine meanwhile if it shares this core.
        sched_yield();
      } else {
        ++report.refused;  // lost; the rest of the batch goes on
        ++next;
      }
    }
  }
  report.elapsed = std::chrono::steady_clock::now() - start;
  report.link_dropped = link::tap_queue_drops(config.interface).value_or(0) - dropped_before;
  return report;
}

}  // namespace tapstack::tools
