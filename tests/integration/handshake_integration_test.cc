// The engine on a real TAP with the Linux kernel as the peer: passive and active open, both
// ways of closing, refusal, and the accept-queue overflow behaviour, over IPv4 and IPv6 alike
// (a dual-stack listener, as make_listener binds ::, takes both).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

// GetParam(): the kernel's family, AF_INET or AF_INET6.
class Handshake : public NetnsTest, public ::testing::WithParamInterface<int> {
 protected:
  int family() const { return GetParam(); }
  const char* engine_ip() const { return engine_address(family()); }
  const char* kernel_ip() const { return kernel_address(family()); }
  void configure(EngineConfig& config) override {
    config.time_wait = 200ms;  // so TIME-WAIT's end is observable within the test
  }

  Result<EndpointId> accept(EndpointId listener) {
    return loop_->call([&](Engine& e) { return e.accept(listener); });
  }
  // Waits for `listener`'s next connection (kConnectionReady) and accepts it.
  EndpointId accept_next(EndpointId listener) {
    EndpointId id = 0;
    bool got = events_.eventually([&] {
      auto r = accept(listener);
      if (r.is_ok()) id = *r;
      return r.is_ok();
    });
    if (!got) ADD_FAILURE() << "no connection to accept";
    return id;
  }
  EndpointInfo query(EndpointId id) {
    auto r = loop_->call([&](Engine& e) { return e.query(id); });
    EXPECT_TRUE(r.is_ok()) << r.status().message;
    return r.is_ok() ? *r : EndpointInfo{};
  }
  // A kernel listener on the kernel's side of the TAP (accept calls time out after 5 s).
  KernelSocket kernel_listener(uint16_t port) {
    KernelSocket server(family());
    int one = 1;
    setsockopt(server.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    AnyAddress a = any_address(kernel_ip(), port);
    EXPECT_EQ(::bind(server.fd(), a.get(), a.length), 0);
    EXPECT_EQ(::listen(server.fd(), 8), 0);
    server.set_timeout(5s);
    return server;
  }
  // Starts an active open from a new endpoint to the kernel's `port`.
  EndpointId engine_connect(uint16_t port) {
    return loop_->call([&](Engine& e) {
      EndpointId c = *e.create_endpoint();
      EXPECT_TRUE(e.connect(c, *IpAddress::parse(kernel_ip()), port).is_ok());
      return c;
    });
  }
  uint64_t resets() {
    return loop_->stats().resets_sent.get() + loop_->stats().resets_received.get();
  }
};

TEST_P(Handshake, ManyConcurrentKernelClientsAreAllAccepted) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  EndpointId listener = make_listener(8080, 512);
  std::mutex mutex;
  std::set<uint16_t> client_ports;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  std::vector<int> open_fds;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        KernelSocket s(10s, family());
        if (!s.connect_to(engine_ip(), 8080)) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mutex);
        client_ports.insert(s.local_port());
        open_fds.push_back(s.release());  // keep them open until all are accepted
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(client_ports.size(), size_t{kThreads * kPerThread});

  std::set<uint16_t> accepted_ports;
  while (accepted_ports.size() < client_ports.size()) {
    auto id = accept(listener);
    if (!id.is_ok()) {
      ASSERT_TRUE(events_.eventually([&] { return query(listener).listener->accept_queue > 0; }))
          << "accepted " << accepted_ports.size() << " of " << client_ports.size();
      continue;
    }
    EndpointInfo info = query(*id);
    EXPECT_EQ(info.state, TcpState::kEstablished);
    EXPECT_EQ(info.remote_address.to_string(), kernel_ip());
    accepted_ports.insert(info.remote_port);
  }
  EXPECT_EQ(accepted_ports, client_ports);
  EXPECT_EQ(loop_->stats().passive_opens.get(), client_ports.size());
  EXPECT_EQ(loop_->stats().listen_drops.get(), 0u);
  for (int fd : open_fds) ::close(fd);
}

TEST_P(Handshake, EngineConnectsToKernelListener) {
  KernelSocket server = kernel_listener(9000);
  EndpointId id = engine_connect(9000);
  ASSERT_TRUE(events_.wait_for(Event::Kind::kEstablished, id));
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  int conn = ::accept(server.fd(), reinterpret_cast<sockaddr*>(&peer), &len);
  ASSERT_GE(conn, 0);
  auto [ip, port] = address_text(peer);
  EXPECT_EQ(ip, engine_ip());
  EndpointInfo info = query(id);
  EXPECT_EQ(info.state, TcpState::kEstablished);
  EXPECT_EQ(info.local_address.to_string(), engine_ip());
  EXPECT_EQ(info.local_port, port);
  // The kernel offers all options; the engine must have taken them.
  ASSERT_TRUE(info.connection);
  EXPECT_TRUE(info.connection->sack_permitted);
  EXPECT_TRUE(info.connection->timestamps);
  EXPECT_TRUE(info.connection->send_window_scale.has_value());
  EXPECT_EQ(info.connection->mss, family() == AF_INET6 ? 1440 : 1460);  // MTU - 60 or - 40
  ::close(conn);
}

TEST_P(Handshake, RefusedConnectIsReportedAsRefused) {
  EndpointId id = engine_connect(9);
  ASSERT_TRUE(events_.wait_for(Event::Kind::kRefused, id));
  EXPECT_EQ(query(id).state, TcpState::kClosed);
  EXPECT_EQ(loop_->stats().attempt_fails.get(), 1u);
}

TEST_P(Handshake, KernelClosesFirstAndBothSidesEndWithFins) {
  EndpointId listener = make_listener(8081, 8);
  KernelSocket client(5s, family());
  ASSERT_TRUE(client.connect_to(engine_ip(), 8081));
  EndpointId id = accept_next(listener);
  ASSERT_EQ(::send(client.fd(), "hello", 5, 0), 5);
  ASSERT_EQ(::shutdown(client.fd(), SHUT_WR), 0);
  ASSERT_TRUE(events_.wait_for_event(
      [&](const Event& e) { return e.endpoint == id && e.state == TcpState::kCloseWait; }));
  EndpointInfo info = query(id);
  EXPECT_EQ(info.connection->bytes_buffered, 5u);
  // Read to the end of the stream (unread data would make close reset, as in Linux).
  std::string read = loop_->call([&](Engine& e) {
    std::string got(16, '\0');
    auto n = e.read(id, std::span(reinterpret_cast<uint8_t*>(got.data()), got.size()));
    got.resize(n.is_ok() ? *n : 0);
    return got;
  });
  EXPECT_EQ(read, "hello");
  auto end = loop_->call([&](Engine& e) {
    uint8_t more[1];
    return e.read(id, more);
  });
  ASSERT_TRUE(end.is_ok());
  EXPECT_EQ(*end, 0u) << "end of stream after the peer's FIN";
  ASSERT_TRUE(loop_->call([&](Engine& e) { return e.close(id, false); }).is_ok());
  char byte;
  EXPECT_EQ(::recv(client.fd(), &byte, 1, 0), 0) << "the kernel must see our FIN, not a RST";
  ASSERT_TRUE(events_.wait_for(Event::Kind::kReleased, id));
  EXPECT_EQ(resets(), 0u);
}

TEST_P(Handshake, EngineClosesFirstAndPassesThroughTimeWait) {
  EndpointId listener = make_listener(8082, 8);
  KernelSocket client(5s, family());
  ASSERT_TRUE(client.connect_to(engine_ip(), 8082));
  EndpointId id = accept_next(listener);
  ASSERT_TRUE(loop_->call([&](Engine& e) { return e.close(id, false); }).is_ok());
  char byte;
  EXPECT_EQ(::recv(client.fd(), &byte, 1, 0), 0) << "EOF, not ECONNRESET";
  ::close(client.release());
  ASSERT_TRUE(events_.wait_for_event(
      [&](const Event& e) { return e.endpoint == id && e.state == TcpState::kTimeWait; }));
  ASSERT_TRUE(events_.wait_for(Event::Kind::kReleased, id));
  EXPECT_EQ(resets(), 0u);
  EXPECT_EQ(loop_->stats().time_wait_entered.get(), 1u);
}

TEST_P(Handshake, EngineClosesActiveConnectionAndKernelSeesEof) {
  KernelSocket server = kernel_listener(9001);
  EndpointId id = engine_connect(9001);
  ASSERT_TRUE(events_.wait_for(Event::Kind::kEstablished, id));
  int fd = ::accept(server.fd(), nullptr, nullptr);
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_TRUE(loop_->call([&](Engine& e) { return e.close(id, false); }).is_ok());
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);
  ::close(fd);
  ASSERT_TRUE(events_.wait_for(Event::Kind::kReleased, id));
  EXPECT_EQ(resets(), 0u);
}

TEST_P(Handshake, SmallBacklogWithoutAcceptingShowsOverflowBehaviour) {
  constexpr uint32_t kBacklog = 2;
  EndpointId listener = make_listener(8083, kBacklog);
  std::vector<KernelSocket> queued;
  for (uint32_t i = 0; i < kBacklog; ++i) {
    ASSERT_TRUE(queued.emplace_back(5s, family()).connect_to(engine_ip(), 8083));
  }
  ASSERT_TRUE(
      events_.eventually([&] { return query(listener).listener->accept_queue == kBacklog; }));
  // The queue is full: the next client's SYN is dropped (Linux 4.10+), so its connect waits.
  KernelSocket late(family());
  int flags = fcntl(late.fd(), F_GETFL);
  fcntl(late.fd(), F_SETFL, flags | O_NONBLOCK);
  AnyAddress a = any_address(engine_ip(), 8083);
  ASSERT_EQ(::connect(late.fd(), a.get(), a.length), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  ASSERT_TRUE(
      events_.eventually([&] { return loop_->stats().accept_queue_full_syn_drops.get() >= 1; }));
  EndpointInfo info = query(listener);
  EXPECT_EQ(info.listener->accept_queue, kBacklog);
  EXPECT_EQ(info.listener->backlog, kBacklog);
  EXPECT_EQ(info.listener->syn_received, 0u);
  EXPECT_GE(loop_->stats().listen_overflows.get(), 1u);
  pollfd p{late.fd(), POLLOUT, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the late client must not be connected yet";

  // Accepting one makes room; the kernel's SYN retransmission (after 1 s) then gets through.
  ASSERT_TRUE(accept(listener).is_ok());
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  int err = -1;
  socklen_t len = sizeof err;
  getsockopt(late.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
  EXPECT_EQ(err, 0);
  ASSERT_TRUE(
      events_.eventually([&] { return query(listener).listener->accept_queue == kBacklog; }));
}

TEST_P(Handshake, StoppedLoopLetsGoOfItsTapAtOnce) {
  EndpointId listener = make_listener(8083, 8);
  KernelSocket client(5s, family());
  ASSERT_TRUE(client.connect_to(engine_ip(), 8083));
  ASSERT_TRUE(events_.wait_for_connection(listener));
  // Stopping cancels the reads in flight on the loop's own thread: nothing waits for a
  // cancellation that cannot come (a 1 s timeout, once), and the TAP is free for its next owner.
  auto start = std::chrono::steady_clock::now();
  loop_->stop();
  loop_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  auto again = link::TapDevice::open("tap" + std::to_string(subnet_));
  EXPECT_TRUE(again.is_ok()) << again.status().message;
}

INSTANTIATE_TEST_SUITE_P(Families, Handshake, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& p) { return p.param == AF_INET6 ? "Ipv6" : "Ipv4"; });

}  // namespace
}  // namespace tapstack::testing
