// What the flood integration tests share: a fixture whose engine answers spoofed off-link
// sources through the kernel (its gateway), the flood's configuration, kernel clients that
// connect and send one byte, and an acceptor that serves the listener on its own thread while
// recording the high-water marks of the engine's tables.
#pragma once

#include <netinet/tcp.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/netns_fixture.h"
#include "tests/tools/syn_flood.h"

namespace tapstack::testing {

// Ports of the kernel clients whose connections the engine has accepted, for the clients that
// wait for theirs before they close.
class AcceptedPorts {
 public:
  void add(const std::vector<uint16_t>& ports) {
    std::lock_guard lock(mutex_);
    ports_.insert(ports.begin(), ports.end());
    changed_.notify_all();
  }
  bool wait_for(uint16_t port, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return ports_.contains(port); });
  }
  std::multiset<uint16_t> snapshot() {
    std::lock_guard lock(mutex_);
    return ports_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::multiset<uint16_t> ports_;
};

// What one turn of the acceptor saw, all read on the loop thread at one instant.
struct AcceptTurn {
  std::vector<uint16_t> done;  // client ports whose connections were served and closed
  size_t from_cookie = 0;
  size_t endpoints = 0;       // at the start of the turn
  uint32_t syn_received = 0;  // the listener's half-open records
};

// Accepts every queued connection, and reads and closes each one whose client's byte has arrived:
// closed
// earlier, that byte, arriving later, would complete a second handshake from the same cookie.
// The close is graceful, so the tuple stays known through FIN-WAIT and TIME-WAIT: under a flood
// the kernel's input queue may drop some of our ACKs, and a client's retransmitted byte must meet
// its old connection, not validate the cookie again (an abort would forget the tuple, and Linux
// would open a second connection just the same). `open` holds the accepted ones still waiting.
inline AcceptTurn serve(EngineLoop& loop, EndpointId listener,
                        std::map<EndpointId, uint16_t>& open) {
  return loop.call([&](Engine& e) {
    AcceptTurn turn;
    turn.endpoints = e.endpoint_count();
    turn.syn_received = e.query(listener)->listener->syn_received;
    for (auto id = e.accept(listener); id.is_ok(); id = e.accept(listener)) {
      auto info = e.query(*id);
      turn.from_cookie += info->connection->from_syn_cookie;
      open[*id] = info->remote_port;
    }
    for (auto it = open.begin(); it != open.end();) {
      if (e.query(it->first)->connection->bytes_received == 0) {
        ++it;
        continue;
      }
      turn.done.push_back(it->second);
      uint8_t byte[16];
      EXPECT_TRUE(e.read(it->first, byte).is_ok());  // unread data would make close reset
      EXPECT_TRUE(e.close(it->first, false).is_ok());
      it = open.erase(it);
    }
    return turn;
  });
}

// Serves `listener` (serve above) on a thread of its own until stop().
class FloodAcceptor {
 public:
  FloodAcceptor(EngineLoop& loop, EventLog& events, EndpointId listener)
      : thread_([this, &loop, &events, listener] {
          std::map<EndpointId, uint16_t> open;
          while (!done_.load()) {
            // Re-checked after every engine event and every 20 ms, until stopped.
            events.eventually(
                [&] {
                  AcceptTurn turn = serve(loop, listener, open);
                  accepted_.add(turn.done);
                  from_cookie_ += turn.from_cookie;
                  max_endpoints_ = std::max(max_endpoints_.load(), turn.endpoints);
                  max_half_open_ = std::max(max_half_open_.load(), turn.syn_received);
                  return !turn.done.empty() || done_.load();
                },
                std::chrono::seconds(1));
          }
        }) {}
  ~FloodAcceptor() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  AcceptedPorts& accepted() { return accepted_; }
  size_t from_cookie() const { return from_cookie_; }
  size_t max_endpoints() const { return max_endpoints_; }
  uint32_t max_half_open() const { return max_half_open_; }

 private:
  AcceptedPorts accepted_;
  std::atomic<bool> done_{false};
  std::atomic<size_t> from_cookie_{0};
  std::atomic<size_t> max_endpoints_{0};
  std::atomic<uint32_t> max_half_open_{0};
  std::thread thread_;  // last: it uses the members above
};

class FloodTest : public NetnsTest {
 protected:
  void configure(EngineConfig& config) override {
    // SYN-ACKs to the spoofed off-link sources go to the kernel, which does not forward them.
    config.gateway = Ipv4Address::parse(kernel_address_);
    config.time_wait = std::chrono::milliseconds(100);  // served connections gone before the end
  }

  // SYNs (or ACKs) from random sources in 198.19.0.0/16 to the engine's `port`.
  tools::SynFloodConfig flood_config(uint16_t port) const {
    tools::SynFloodConfig c;
    c.interface = loop_->tap_name();
    c.destination_mac = config_.mac;
    c.destination = config_.address.address;
    c.destination_port = port;
    c.sources = *Ipv4Subnet::parse("198.19.0.0/16");
    c.seed = Random::system_seed();
    return c;
  }

  // A kernel client bound to `local_port`, connected to `port`, with one byte sent: if the ACK
  // that completes a cookie handshake is lost, the data's retransmission completes it instead.
  // `syn_retransmits`, if given, gets the SYNs the kernel had to send again (TCP_INFO, read
  // between the connect and the byte). Returns what failed, or an empty string.
  std::string connect_and_send(KernelSocket& s, uint16_t local_port, uint16_t port,
                               uint32_t* syn_retransmits = nullptr) {
    s.set_timeout(std::chrono::seconds(20));
    sockaddr_in local = socket_address(kernel_address(), local_port);
    const char* step = nullptr;
    if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      step = "bind";
    } else if (!s.connect_to(engine_address(), port)) {
      step = "connect";
    } else if (!read_syn_retransmits(s, syn_retransmits)) {
      step = "TCP_INFO";
    } else if (::send(s.fd(), "x", 1, 0) != 1) {
      step = "send";
    }
    return step ? "port " + std::to_string(local_port) + ": " + step + ": " + strerror(errno) : "";
  }

  // The kernel cookie path's entry for `port`: the mode the engine published there and what the
  // program counted (zeros without the kernel path). Each field is read whole, as they write it.
  cookie_path_listener kernel_listener(uint16_t port) const {
    cookie_path_listener out{};
    if (!cookie_path_) return out;
    cookie_path_listener& l = cookie_path_->memory().listeners[port];
    auto load = [](auto& field) { return std::atomic_ref(field).load(std::memory_order_relaxed); };
    out.mode = load(l.mode);
    out.accept_queue_full = load(l.accept_queue_full);
    out.synacks = load(l.synacks);
    out.acks_passed = load(l.acks_passed);
    out.acks_refused = load(l.acks_refused);
    out.syns_dropped = load(l.syns_dropped);
    return out;
  }

 private:
  static bool read_syn_retransmits(const KernelSocket& s, uint32_t* out) {
    if (!out) return true;
    tcp_info info{};
    socklen_t length = sizeof info;
    if (getsockopt(s.fd(), IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return false;
    *out = info.tcpi_total_retrans;
    return true;
  }
};

}  // namespace tapstack::testing
