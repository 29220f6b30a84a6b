// Integration fixture: an EngineLoop on a real TAP device inside the network namespace that
// in_netns.sh created for this run, with the Linux kernel on the other side of the TAP as the
// peer (198.18.N.1/24; the engine is 198.18.N.2/24). Each test gets its own N, so segments the
// kernel still retransmits for an earlier test's connections cannot reach this test's engine.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stack/engine_loop.h"
#include "stack/link/cookie_path_program.h"
#include "stack/random.h"

namespace tapstack::testing {

// Collects the engine's events (delivered on the loop thread) for the test thread to await.
class EventLog {
 public:
  void record(const Event& e) {
    std::lock_guard lock(mutex_);
    events_.push_back(e);
    changed_.notify_all();
  }
  // Re-checks `check` (which may talk to the loop: it runs without the lock) after every event,
  // and every 20 ms for conditions no event announces (a counter), for at most `limit`.
  bool eventually(const std::function<bool()>& check,
                  std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      size_t seen;
      {
        std::lock_guard lock(mutex_);
        seen = events_.size();
      }
      if (check()) return true;
      std::unique_lock lock(mutex_);
      if (std::chrono::steady_clock::now() >= deadline) return false;
      changed_.wait_until(
          lock,
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)),
          [&] { return events_.size() != seen; });
    }
  }
  // Waits until `done(events)` holds, at most `limit`; `done` runs under the lock and must
  // not call into the loop.
  bool wait_until(const std::function<bool(const std::vector<Event>&)>& done,
                  std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return done(events_); });
  }
  // Waits until an event matching `match` has been recorded.
  bool wait_for_event(const std::function<bool(const Event&)>& match,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return wait_until(
        [&](const std::vector<Event>& events) {
          return std::any_of(events.begin(), events.end(), match);
        },
        limit);
  }
  bool wait_for(Event::Kind kind, EndpointId endpoint,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return wait_for_event([&](const Event& e) { return e.kind == kind && e.endpoint == endpoint; },
                          limit);
  }
  // Waits until `listener`'s accept queue has gained a connection.
  bool wait_for_connection(EndpointId listener,
                           std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return wait_for_event(
        [&](const Event& e) {
          return e.kind == Event::Kind::kConnectionReady && e.listener == listener;
        },
        limit);
  }
  size_t count(Event::Kind kind) {
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const Event& e : events_) n += e.kind == kind;
    return n;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
};

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("TAPSTACK_NETNS"), nullptr)
        << "run through tests/integration/in_netns.sh: it creates the network namespace";
    static int tests_run = 0;
    subnet_ = ++tests_run;
    kernel_address_ = "198.18." + std::to_string(subnet_) + ".1";
    engine_address_ = "198.18." + std::to_string(subnet_) + ".2";
    std::string tap_name = "tap" + std::to_string(subnet_);
    auto tap = link::TapDevice::open(tap_name);
    ASSERT_TRUE(tap.is_ok()) << tap.status().message;
    std::string add = "ip addr replace " + kernel_address_ + "/24 dev " + tap_name;
    ASSERT_EQ(std::system(add.c_str()), 0);
    config_.address = {*Ipv4Address::parse(engine_address_), 24};
    // And 2001:db8:N::/64, without DAD on either side: the namespace is this run's alone.
    kernel_address6_ = "2001:db8:" + std::to_string(subnet_) + "::1";
    engine_address6_ = "2001:db8:" + std::to_string(subnet_) + "::2";
    std::string add6 = "ip -6 addr replace " + kernel_address6_ + "/64 dev " + tap_name + " nodad";
    ASSERT_EQ(std::system(add6.c_str()), 0);
    config_.ipv6_addresses = {{*Ipv6Address::parse(engine_address6_), 64}};
    config_.ipv6_dad_transmits = 0;
    configure(config_);
    on_tap(tap.value());
    if (kernel_cookie_path()) {
      // As tapstackd does (--kernel-cookies on): attached before the loop takes the TAP, and
      // answering nothing until the engine has published its configuration.
      auto program = link::CookiePathProgram::load();
      ASSERT_TRUE(program.is_ok()) << program.status().message;
      Status attached = program.value()->attach(static_cast<int>(if_nametoindex(tap_name.c_str())));
      ASSERT_TRUE(attached.is_ok()) << attached.message;
      cookie_path_ = std::move(program.value());
    }
    link::LinkOptions link = link_options();
    configure_link(link);
    loop_ = std::make_unique<EngineLoop>(config_, std::move(tap.value()), tcp::KeySource::system(),
                                         link);
    loop_->set_event_handler([this](const Event& e) { events_.record(e); });
    loop_->start();
    if (cookie_path_) {
      loop_->call([memory = cookie_path_->memory()](Engine& e) { e.attach_cookie_path(memory); });
    }
  }
  void TearDown() override {
    if (loop_) loop_->stop();
    loop_.reset();
    cookie_path_.reset();  // after the engine, which writes into its memory
  }
  // ctest runs the suite once per link I/O (TAPSTACK_LINK_IO=epoll|io_uring; unset: auto), and
  // once more busy-polling (TAPSTACK_BUSY_POLL_US).
  static link::LinkOptions link_options() {
    link::LinkOptions options;
    if (const char* kind = std::getenv("TAPSTACK_LINK_IO")) {
      options.kind = std::string(kind) == "epoll" ? link::LinkKind::kEpoll : link::LinkKind::kUring;
    }
    if (const char* us = std::getenv("TAPSTACK_BUSY_POLL_US")) {
      // "auto": adaptive, as tapstackd's default; a number: a fixed window.
      bool adaptive = std::string(us) == "auto";
      options.busy_poll = {adaptive ? microseconds(50) : microseconds(std::atoi(us)), adaptive};
    }
    return options;
  }
  // Let a test change the configuration before the loop starts.
  virtual void configure(EngineConfig&) {}
  virtual void configure_link(link::LinkOptions&) {}
  // Sees the TAP before the loop takes it over.
  virtual void on_tap(const link::TapDevice&) {}
  // True: the kernel cookie path (link/cookie_path_program.h) on the TAP's egress, shared with
  // the engine, as tapstackd runs by default.
  virtual bool kernel_cookie_path() const { return false; }

  EndpointId make_listener(uint16_t port, uint32_t backlog) {
    return loop_->call([&](Engine& e) {
      EndpointId id = *e.create_endpoint();
      EXPECT_TRUE(e.bind(id, Ipv6Address{}, port).is_ok());  // ::, both families
      EXPECT_TRUE(e.listen(id, backlog).is_ok());
      return id;
    });
  }

  // Writes `count` frames, `frame(i)` each, into the TAP through a packet socket, as if a host on
  // the link sent them, in batches of 200 so that the TAP's queue (1000 frames) never overflows:
  // a batch waits until `taken(stats)`, a counter of the frames the engine took, has seen it.
  void flood_tap(uint32_t count, const std::function<std::vector<uint8_t>(uint32_t)>& frame,
                 uint64_t (*taken)(const Stats&)) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    ASSERT_GE(fd, 0) << std::strerror(errno);
    sockaddr_ll link{};
    link.sll_family = AF_PACKET;
    link.sll_ifindex = static_cast<int>(if_nametoindex(("tap" + std::to_string(subnet_)).c_str()));
    link.sll_halen = 6;
    ASSERT_GT(link.sll_ifindex, 0);
    auto taken_now = [&] { return loop_->call([&](Engine& e) { return taken(e.stats()); }); };
    for (uint32_t i = 0; i < count; ++i) {
      std::vector<uint8_t> bytes = frame(i);
      ASSERT_EQ(sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&link),
                       sizeof link),
                static_cast<ssize_t>(bytes.size()))
          << std::strerror(errno);
      if (i % 200 == 199 || i + 1 == count) {
        ASSERT_TRUE(events_.eventually([&] { return taken_now() >= i + 1; }));
      }
    }
    close(fd);
  }

  const char* kernel_address() const { return kernel_address_.c_str(); }
  const char* engine_address() const { return engine_address_.c_str(); }
  // The same of one family: AF_INET or AF_INET6.
  const char* kernel_address(int family) const {
    return family == AF_INET6 ? kernel_address6_.c_str() : kernel_address();
  }
  const char* engine_address(int family) const {
    return family == AF_INET6 ? engine_address6_.c_str() : engine_address();
  }

  int subnet_ = 0;
  std::string kernel_address_;
  std::string engine_address_;
  std::string kernel_address6_;
  std::string engine_address6_;
  EngineConfig config_;
  std::unique_ptr<link::CookiePathProgram> cookie_path_;  // with kernel_cookie_path()
  std::unique_ptr<EngineLoop> loop_;
  EventLog events_;
};

inline sockaddr_in socket_address(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A socket address of either family: IPv6 when `ip` has a colon.
struct AnyAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};
inline AnyAddress any_address(const char* ip, uint16_t port) {
  AnyAddress a;
  if (std::string_view(ip).find(':') == std::string_view::npos) {
    sockaddr_in v4 = socket_address(ip, port);
    std::memcpy(&a.storage, &v4, sizeof v4);
    a.length = sizeof v4;
    return a;
  }
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &v6.sin6_addr);
  std::memcpy(&a.storage, &v6, sizeof v6);
  a.length = sizeof v6;
  return a;
}
// The address and port of a socket address, as text ("198.18.1.2", "2001:db8:1::2").
inline std::pair<std::string, uint16_t> address_text(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = {};
  if (s.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(s);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    return {text, ntohs(v6.sin6_port)};
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(s);
  inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  return {text, ntohs(v4.sin_port)};
}

// A kernel TCP socket, closed on scope exit.
class KernelSocket {
 public:
  explicit KernelSocket(int family = AF_INET)
      : fd_(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  // With its blocking calls bounded (set_timeout) from the start.
  explicit KernelSocket(std::chrono::milliseconds timeout, int family = AF_INET)
      : KernelSocket(family) {
    set_timeout(timeout);
  }
  ~KernelSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  KernelSocket(KernelSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  KernelSocket& operator=(KernelSocket&& o) noexcept {
    std::swap(fd_, o.fd_);  // ours closes with `o`
    return *this;
  }
  KernelSocket(const KernelSocket&) = delete;
  int fd() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // `ip` of the socket's family.
  bool connect_to(const char* ip, uint16_t port) {
    AnyAddress a = any_address(ip, port);
    if (::connect(fd_, a.get(), a.length) == 0) return true;
    // With io_uring's loop in this process, a blocking call may return EINTR (seen in about
    // half the runs of 300 connects in a row). The handshake goes on: wait for it as for a
    // non-blocking connect.
    if (errno != EINTR) return false;
    pollfd p{fd_, POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, 5000);
    } while (n < 0 && errno == EINTR);
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    errno = n == 1 ? err : ETIMEDOUT;
    return n == 1 && err == 0;
  }
  // recv(), retried when a signal interrupts it (see connect_to).
  ssize_t receive(void* buffer, size_t size) {
    ssize_t n;
    do {
      n = ::recv(fd_, buffer, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }
  // Bounds blocking calls so that a broken engine fails the test instead of hanging it.
  void set_timeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  uint16_t local_port() const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return address_text(a).second;
  }

 private:
  int fd_;
};

}  // namespace tapstack::testing
