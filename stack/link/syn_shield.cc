#include "stack/link/syn_shield.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "stack/tcp/key_source.h"

namespace tapstack::link {

std::optional<uint64_t> tap_queue_drops(const std::string& tap_name) {
  std::ifstream dev("/proc/net/dev");
  std::string line;
  const std::string prefix = tap_name + ":";
  while (std::getline(dev, line)) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, prefix.size(), prefix) != 0) continue;
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets
    // errs drop... The kernel transmits to the TAP's reader, so its drops are transmit drops.
    std::istringstream fields(line.substr(start + prefix.size()));
    uint64_t value = 0;
    int read = 0;
    while (read < 12 && fields >> value) ++read;
    if (read == 12) return value;  // the twelfth: transmit drops
  }
  return std::nullopt;
}

Result<std::unique_ptr<SynShield>> SynShield::attach(const TapDevice& tap,
                                                     SynShieldOptions options) {
  auto filter = SynShieldFilter::load(tcp::KeySource::system().next_u64());
  if (!filter.is_ok()) return filter.status();
  // Our own descriptor of the TAP: the filter is detached through it when the shield goes.
  bpf::Fd tap_fd(dup(tap.fd()));
  int program_fd = filter->program().get();
  if (tap_fd.get() < 0 || ioctl(tap_fd.get(), TUNSETFILTEREBPF, &program_fd) < 0) {
    return error(ErrorCode::kUnavailable,
                 "attaching the SYN shield to " + tap.name() + ": " + strerror(errno));
  }
  auto shield = std::unique_ptr<SynShield>(
      new SynShield(tap.name(), options, std::move(filter.value()), std::move(tap_fd)));
  shield->last_tap_drops_ = tap_queue_drops(tap.name()).value_or(0);
  shield->generation_started_ = monotonic_now();
  shield->thread_ = std::thread([s = shield.get()] { s->run(); });
  return shield;
}

SynShield::SynShield(std::string tap_name, SynShieldOptions options, SynShieldFilter filter,
                     bpf::Fd tap_fd)
    : tap_name_(std::move(tap_name)),
      options_(options),
      filter_(std::move(filter)),
      tap_fd_(std::move(tap_fd)) {}

SynShield::~SynShield() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // A TAP that outlives us (one we did not create) must not keep filtering for its next owner.
  int none = -1;
  ioctl(tap_fd_.get(), TUNSETFILTEREBPF, &none);
}

SynShieldStats SynShield::stats() const {
  SynShieldControl& c = control();
  return {load_shared(c.active) != 0, activations_.load(std::memory_order_relaxed),
          load_shared(c.first_syns_dropped), load_shared(c.retransmissions_passed)};
}

void SynShield::run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, options_.tick, [this] { return stopping_; })) {
    lock.unlock();
    tick(monotonic_now());
    lock.lock();
  }
}

void SynShield::tick(Time now) {
  uint64_t drops = tap_queue_drops(tap_name_).value_or(last_tap_drops_);
  uint64_t new_drops = drops - last_tap_drops_;
  last_tap_drops_ = drops;
  SynShieldControl& c = control();
  uint64_t dropped = load_shared(c.first_syns_dropped);
  uint64_t stopped = dropped - last_dropped_;
  last_dropped_ = dropped;

  if (now - generation_started_ >= options_.generation) {
    filter_.start_generation(1 - load_shared(c.generation));
    generation_started_ = now;
  }
  if (load_shared(c.active) == 0) {
    if (new_drops >= options_.overflow_drops) {
      calm_since_ = now;
      activations_.fetch_add(1, std::memory_order_relaxed);
      store_shared(c.active, 1);
    }
    return;
  }
  uint64_t per_second = stopped * static_cast<uint64_t>(seconds(1) / options_.tick);
  if (per_second >= options_.calm_syns_per_second) {
    calm_since_ = now;
  } else if (now - calm_since_ >= options_.calm) {
    store_shared(c.active, 0);
  }
}

}  // namespace tapstack::link
