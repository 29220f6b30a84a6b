// Issue 11's engine items against the Linux kernel as the peer, through a real TAP: a server
// that closes first with far more connections than endpoints, data sent after our close, and
// a bound port that a refused connect keeps.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxEndpoints = 50;

class HostilePeer : public NetnsTest {
 protected:
  void configure(EngineConfig& config) override { config.max_endpoints = kMaxEndpoints; }

  EndpointId accept_next(EndpointId listener) {
    EndpointId id = 0;
    bool got = events_.eventually([&] {
      auto r = loop_->call([&](Engine& e) { return e.accept(listener); });
      if (r.is_ok()) id = *r;
      return r.is_ok();
    });
    if (!got) ADD_FAILURE() << "no connection to accept";
    return id;
  }
  Status close(EndpointId id) {
    return loop_->call([&](Engine& e) { return e.close(id, false); });
  }
  size_t time_wait_count() {
    return loop_->call([](Engine& e) { return e.time_wait_count(); });
  }
};

// The HTTP/1.0 pattern: the server closes, the client reads to EOF and closes. Every closed
// connection waits in TIME-WAIT on our side; with TIME-WAIT in endpoints, the 50-endpoint table
// refused connections after 49 of them.
TEST_F(HostilePeer, ServerClosingFirstServesSixTimesMoreConnectionsThanEndpoints) {
  constexpr size_t kConnections = 6 * kMaxEndpoints;
  EndpointId listener = make_listener(8100, 8);
  for (size_t i = 0; i < kConnections; ++i) {
    KernelSocket client(5s);
    ASSERT_TRUE(client.connect_to(engine_address(), 8100))
        << "connection " << i << ": " << std::strerror(errno);
    EndpointId id = accept_next(listener);
    ASSERT_TRUE(close(id).is_ok());
    char byte;
    ASSERT_EQ(client.receive(&byte, 1), 0) << "connection " << i << ": EOF expected";
  }  // the client closes: its FIN moves our side to TIME-WAIT
  EXPECT_TRUE(events_.eventually([&] { return time_wait_count() == kConnections; }))
      << time_wait_count() << " in TIME-WAIT";
  EXPECT_EQ(loop_->stats().listen_drops.get(), 0u);
  EXPECT_EQ(loop_->stats().resets_sent.get(), 0u);
  EXPECT_EQ(loop_->call([](Engine& e) { return e.endpoint_count(); }), 1u);
}

TEST_F(HostilePeer, DataAfterOurCloseIsAnsweredWithReset) {
  EndpointId listener = make_listener(8101, 8);
  KernelSocket client(5s);
  ASSERT_TRUE(client.connect_to(engine_address(), 8101));
  EndpointId id = accept_next(listener);
  ASSERT_TRUE(close(id).is_ok());
  char byte;
  ASSERT_EQ(client.receive(&byte, 1), 0);
  // Half-closed from our side only: the kernel may still send, and nobody here would read it.
  ASSERT_EQ(::send(client.fd(), "late", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(events_.eventually([&] { return loop_->stats().aborts_on_data.get() == 1; }));
  ASSERT_TRUE(events_.wait_for(Event::Kind::kReleased, id));
  // The kernel took our RST: its socket is dead.
  EXPECT_TRUE(events_.eventually([&] { return ::send(client.fd(), "x", 1, MSG_NOSIGNAL) < 0; }));
  EXPECT_EQ(time_wait_count(), 0u);
}

TEST_F(HostilePeer, ARefusedConnectKeepsItsPortFromOtherEndpoints) {
  Ipv4Address kernel = *Ipv4Address::parse(kernel_address());
  EndpointId a = loop_->call([&](Engine& e) {
    EndpointId id = *e.create_endpoint();
    EXPECT_TRUE(e.bind(id, {}, 5000).is_ok());
    EXPECT_TRUE(e.connect(id, kernel, 9).is_ok());  // nothing listens: the kernel sends RST
    return id;
  });
  ASSERT_TRUE(events_.wait_for(Event::Kind::kRefused, a));
  auto bind_b = [&] {
    return loop_->call([&](Engine& e) {
      EndpointId id = *e.create_endpoint();
      return e.bind(id, {}, 5000).code;
    });
  };
  EXPECT_EQ(bind_b(), ErrorCode::kAlreadyExists);
  ASSERT_TRUE(close(a).is_ok());
  EXPECT_EQ(bind_b(), ErrorCode::kOk);
  EXPECT_EQ(bind_b(), ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace tapstack::testing
