// A listener's admission policy against real clients: the kernel connects from several source
// addresses of the test's 198.18.N.0/24 (added to its side of the TAP in the test's namespace,
// each client bound to one before it connects), and the policy is set through the loop as the
// control plane sets it. The policies count each address as a source of its own (source prefix
// 32), since all of them share the test's /24.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <optional>
#include <thread>

#include "tests/integration/flood_fixture.h"
#include "tests/integration/netns_fixture.h"

namespace tapstack::testing {
namespace {

using namespace std::chrono_literals;
using tcp::AdmissionPolicy;
using tcp::AdmissionReason;
using tcp::Refusal;

constexpr uint16_t kPort = 8080;

// What the tests of both fixtures share: the policy set through the loop, the listener's
// counters, and a policy counting each address on its own.
class AdmissionSteps {
 public:
  explicit AdmissionSteps(std::unique_ptr<EngineLoop>& loop) : loop_(loop) {}
  void set(EndpointId listener, std::optional<AdmissionPolicy> p) {
    Status s = loop_->call([&](Engine& e) { return e.set_admission(listener, p); });
    ASSERT_TRUE(s.is_ok()) << s.message;
  }
  tcp::AdmissionCounters counters(EndpointId listener) {
    return loop_->call([&](Engine& e) {
      auto info = e.query(listener);
      EXPECT_TRUE(info.is_ok() && info->listener);
      return info.is_ok() && info->listener ? info->listener->admission_counters
                                            : tcp::AdmissionCounters{};
    });
  }
  uint64_t refused(EndpointId listener, AdmissionReason reason) {
    return counters(listener).refused[static_cast<size_t>(reason)];
  }
  static AdmissionPolicy per_address() {
    AdmissionPolicy p;
    p.ipv4_source_prefix = 32;
    return p;
  }

 private:
  std::unique_ptr<EngineLoop>& loop_;
};

class Admission : public NetnsTest {
 protected:
  void SetUp() override {
    NetnsTest::SetUp();
    if (HasFatalFailure()) return;
    // Client addresses 198.18.N.10 to .19 beside the kernel's .1.
    for (int host = 10; host < 20; ++host) {
      std::string add = "ip addr add " + source(host) + "/24 dev tap" + std::to_string(subnet_);
      ASSERT_EQ(std::system(add.c_str()), 0) << add;
    }
    listener_ = make_listener(kPort, 1024);
  }

  std::string source(int host) const {
    return "198.18." + std::to_string(subnet_) + "." + std::to_string(host);
  }
  tcp::IpPrefix host_prefix(int host) const { return *tcp::IpPrefix::parse(source(host) + "/32"); }

  // A client bound to `source`, its connect to the listener under way (non-blocking).
  KernelSocket start_connect(const std::string& from) {
    KernelSocket s;
    sockaddr_in local = socket_address(from.c_str(), 0);
    EXPECT_EQ(::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local), 0)
        << from << ": " << std::strerror(errno);
    fcntl(s.fd(), F_SETFL, O_NONBLOCK);
    sockaddr_in to = socket_address(engine_address(), kPort);
    int r = ::connect(s.fd(), reinterpret_cast<sockaddr*>(&to), sizeof to);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
    return s;
  }
  // How the connect ended within `limit`: 0 (connected), its errno, or nullopt if it is still
  // under way (no answer).
  static std::optional<int> outcome(const KernelSocket& s, std::chrono::milliseconds limit) {
    pollfd p{s.fd(), POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(limit.count()));
    } while (n < 0 && errno == EINTR);
    if (n == 0) return std::nullopt;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
  }
  // Connects from `from`; 0 or the connect's errno (ETIMEDOUT if nothing came in 5 s). The
  // socket is handed over in `keep` when given.
  int connect_from(const std::string& from, KernelSocket* keep = nullptr) {
    KernelSocket s = start_connect(from);
    int result = outcome(s, 5s).value_or(ETIMEDOUT);
    if (keep) *keep = std::move(s);
    return result;
  }
  // Waits for the listener's next connection and accepts it.
  EndpointId accept_next() {
    EndpointId id = 0;
    bool got = events_.eventually([&] {
      auto r = loop_->call([&](Engine& e) { return e.accept(listener_); });
      if (r.is_ok()) id = *r;
      return r.is_ok();
    });
    EXPECT_TRUE(got) << "no connection to accept";
    return id;
  }

  AdmissionSteps steps_{loop_};
  EndpointId listener_ = 0;
};

TEST_F(Admission, DeniedSourcesAreRefusedWithResetOrSilence) {
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.deny = {host_prefix(11)};
  steps_.set(listener_, p);
  EXPECT_EQ(connect_from(source(11)), ECONNREFUSED);
  EXPECT_EQ(connect_from(source(10)), 0);

  // Silence: the client hears nothing and retransmits its SYN (at 1 s) into the same refusal.
  p.list_refusal = Refusal::kSilence;
  steps_.set(listener_, p);
  KernelSocket silent = start_connect(source(11));
  EXPECT_EQ(outcome(silent, 1500ms), std::nullopt) << "the connect ended";
  EXPECT_GE(steps_.refused(listener_, AdmissionReason::kDenied), 3u);  // the RST'd one and two
  EXPECT_EQ(connect_from(source(12)), 0);
  EXPECT_EQ(steps_.counters(listener_).admitted, 2u);
}

TEST_F(Admission, AllowListAdmitsOnlyItsSources) {
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.allow = {host_prefix(13)};
  steps_.set(listener_, p);
  EXPECT_EQ(connect_from(source(13)), 0);
  EXPECT_EQ(connect_from(source(14)), ECONNREFUSED);
  EXPECT_EQ(steps_.refused(listener_, AdmissionReason::kNotAllowed), 1u);
}

TEST_F(Admission, SynRateHoldsForAClientHammeringConnect) {
  constexpr double kRate = 20;
  constexpr uint32_t kBurst = 5;
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = kRate, .burst = kBurst};
  p.rate_refusal = Refusal::kReset;
  steps_.set(listener_, p);
  // Connects from one source for 3 s, each refused one answered at once by a RST; a second
  // source beside it has a bucket of its own.
  uint64_t connected = 0;
  uint64_t refused = 0;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  while (last - start < 3s) {
    int r = connect_from(source(15));
    ASSERT_TRUE(r == 0 || r == ECONNREFUSED) << std::strerror(r);
    (r == 0 ? connected : refused) += 1;
    last = std::chrono::steady_clock::now();
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  const double expected = kRate * seconds + kBurst;
  RecordProperty("connected", static_cast<int>(connected));
  RecordProperty("expected", static_cast<int>(expected));
  RecordProperty("refused", static_cast<int>(refused));
  EXPECT_NEAR(static_cast<double>(connected), expected, expected * 0.1)
      << connected << " connected, " << refused << " refused in " << seconds << " s";
  EXPECT_GT(refused, connected);  // it did hammer
  EXPECT_EQ(steps_.counters(listener_).admitted, connected);
  EXPECT_EQ(steps_.refused(listener_, AdmissionReason::kRateLimited), refused);
  for (uint32_t i = 0; i < kBurst; ++i) EXPECT_EQ(connect_from(source(16)), 0) << i;
  EXPECT_EQ(steps_.counters(listener_).sources, 2u);
}

TEST_F(Admission, ConnectionCapPerSourceCountsDownWhenAConnectionEnds) {
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.max_connections = 3;
  steps_.set(listener_, p);
  std::vector<KernelSocket> clients(3);
  std::vector<EndpointId> accepted;
  for (KernelSocket& c : clients) {
    ASSERT_EQ(connect_from(source(17), &c), 0);
    accepted.push_back(accept_next());
  }
  EXPECT_EQ(connect_from(source(17)), ECONNREFUSED);
  EXPECT_EQ(connect_from(source(18)), 0);  // another source
  // The engine aborts one: it is forgotten, and its place is free.
  ASSERT_TRUE(loop_->call([&](Engine& e) { return e.close(accepted[0], true); }).is_ok());
  EXPECT_EQ(connect_from(source(17)), 0);
  EXPECT_EQ(connect_from(source(17)), ECONNREFUSED);
  EXPECT_EQ(steps_.refused(listener_, AdmissionReason::kConnectionCap), 2u);
}

TEST_F(Admission, PolicyChangesTakeEffectOnTheNextSyn) {
  EXPECT_EQ(connect_from(source(19)), 0);
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.deny = {host_prefix(19)};
  steps_.set(listener_, p);
  EXPECT_EQ(connect_from(source(19)), ECONNREFUSED);
  steps_.set(listener_, std::nullopt);
  EXPECT_EQ(connect_from(source(19)), 0);
  EXPECT_EQ(steps_.refused(listener_, AdmissionReason::kDenied), 1u);
}

// With the kernel cookie path attached and cookies `always`, a listener without a policy has its
// SYNs answered by the program; with one, they all reach the engine, which refuses or answers
// them itself.
class AdmissionKernelCookies : public Admission {
 protected:
  bool kernel_cookie_path() const override { return true; }
  cookie_path_listener& published() const { return cookie_path_->memory().listeners[kPort]; }
  uint32_t mode() const {
    return std::atomic_ref(published().mode).load(std::memory_order_relaxed);
  }
};

TEST_F(AdmissionKernelCookies, ListenerWithAPolicyLeavesItsSynsToTheEngine) {
  loop_->call([](Engine& e) {
    TunableConfig t = e.tunable();
    t.syncookies = tcp::SynCookieMode::kAlways;
    e.update_tunable(t);
  });
  EXPECT_EQ(mode(), COOKIE_PATH_ON);
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.deny = {host_prefix(11)};
  steps_.set(listener_, p);
  EXPECT_EQ(mode(), COOKIE_PATH_OFF);
  EXPECT_EQ(connect_from(source(11)), ECONNREFUSED);
  EXPECT_EQ(connect_from(source(10)), 0);
  EXPECT_EQ(std::atomic_ref(published().synacks).load(std::memory_order_relaxed), 0u);
  const auto [cookies_sent, cookies_validated] = loop_->call([](Engine& e) {
    return std::pair(e.stats().syncookies_sent.get(), e.stats().syncookies_validated.get());
  });
  EXPECT_EQ(cookies_sent, 1u);  // the engine's own, to the admitted client
  EXPECT_EQ(cookies_validated, 1u);
  EXPECT_EQ(steps_.refused(listener_, AdmissionReason::kDenied), 1u);
}

// A spoofed SYN flood from all of 198.19.0.0/16 against a policy that tracks every address:
// the listener tracks no more sources than its table holds, and a real client still connects.
class AdmissionFlood : public FloodTest {
 protected:
  AdmissionSteps steps_{loop_};
};

TEST_F(AdmissionFlood, SpoofedSourcesKeepTheTableAtItsSize) {
  // Half-open records pin their sources' entries, and a listener holds at most syn_backlog of
  // them (beyond it SYNs get cookies): the table has that much room besides its size, so
  // spoofed handshakes never pin all of it, and idle sources make room for new ones.
  constexpr uint32_t kSynBacklog = 128;
  constexpr uint32_t kTableSize = 500;
  EndpointId listener = loop_->call([&](Engine& e) {
    EndpointId id = *e.create_endpoint();
    EXPECT_TRUE(e.bind(id, Ipv4Address{}, kPort).is_ok());
    EXPECT_TRUE(e.listen(id, 1024, kSynBacklog).is_ok());
    return id;
  });
  AdmissionPolicy p = AdmissionSteps::per_address();
  p.syn_rate = AdmissionPolicy::SynRate{.per_second = 1, .burst = 1};
  p.source_table_size = kTableSize;
  steps_.set(listener, p);

  tools::SynFloodConfig flood = flood_config(kPort);
  flood.max_packets = 20000;
  auto report = tools::run_syn_flood(flood);
  ASSERT_TRUE(report.is_ok()) << report.status().message;
  ASSERT_GT(report->sent, 10000u);
  // Every SYN taken is judged; the table never holds more than its size.
  ASSERT_TRUE(events_.eventually([&] {
    tcp::AdmissionCounters c = steps_.counters(listener);
    uint64_t judged = c.admitted;
    for (uint64_t r : c.refused) judged += r;
    return judged >= report->sent - report->link_dropped;
  }));
  tcp::AdmissionCounters c = steps_.counters(listener);
  EXPECT_EQ(c.sources, kTableSize + kSynBacklog);
  EXPECT_GT(c.sources_evicted, 0u);
  KernelSocket client(5s);
  EXPECT_TRUE(client.connect_to(engine_address(), kPort)) << std::strerror(errno);
}

}  // namespace
}  // namespace tapstack::testing
