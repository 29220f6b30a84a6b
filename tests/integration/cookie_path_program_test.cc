// The kernel cookie path (stack/link/bpf/cookie_path.bpf.c) run by the kernel on crafted frames
// (BPF_PROG_TEST_RUN), side by side with an engine that shares its memory (secrets, listener
// modes, live tuples): for every frame the program answers, its answer must be the engine's,
// byte for byte, at the same time; what it passes must be untouched; what it drops the engine
// drops too. Needs CAP_BPF, as the rest of this suite needs root.
#include "stack/link/cookie_path_program.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "stack/engine.h"
#include "stack/header/arp.h"
#include "stack/header/bytes.h"
#include "stack/header/checksum.h"
#include "stack/header/ethernet.h"

namespace tapstack::link {
namespace {

using Bytes = std::vector<uint8_t>;
using header::store16;
using header::store32;

constexpr uint16_t kPort = 8080;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
const MacAddress kOurMac{{0x02, 0, 0, 0, 0, 0x02}};
const Ipv4Address kOurAddress{0xc6120002};  // 198.18.0.2/24

struct Peer {
  MacAddress mac;
  Ipv4Address address;
};

// Peers 198.18.0.11 to .18 (ours is .2).
Peer peer(uint8_t n) {
  uint8_t host = static_cast<uint8_t>(10 + n);
  return {{{0x02, 0, 0, 0, 1, host}}, {0xc6120000u | host}};
}

// One TCP segment as a client puts it on the wire; `options` raw, already a multiple of 4 or
// not (header_length says what the data offset claims).
struct Segment {
  Peer from = peer(1);
  Ipv4Address to = kOurAddress;
  MacAddress to_mac = kOurMac;
  uint16_t source_port = 40000;
  uint16_t destination_port = kPort;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t flags = kSyn;
  uint16_t window = 64240;
  Bytes options;
  Bytes payload;
  size_t ethernet_padding = 0;
  uint16_t ip_fragment = 0x4000;  // DF
  uint8_t protocol = 6;
  bool corrupt_ip_checksum = false;
  bool corrupt_tcp_checksum = false;
  bool partial_checksum = false;  // the pseudo-header sum only, as the local stack leaves it
  Bytes ip_options;               // a multiple of 4, at most 40
};

Bytes frame_of(const Segment& s) {
  size_t options = s.options.size();
  size_t tcp_length = 20 + options + s.payload.size();
  size_t ip_length = 20 + s.ip_options.size();
  Bytes f(14 + ip_length + tcp_length + s.ethernet_padding, 0);
  header::write_ethernet(f.data(), s.to_mac, s.from.mac, header::kEtherTypeIpv4);
  uint8_t* ip = f.data() + 14;
  header::write_ipv4(ip, s.from.address, s.to, s.protocol,
                     static_cast<uint16_t>(ip_length + tcp_length), 0x1234, 64);
  ip[0] = static_cast<uint8_t>(0x40 | ip_length / 4);
  std::copy(s.ip_options.begin(), s.ip_options.end(), ip + 20);
  store16(ip + 6, s.ip_fragment);
  store16(ip + 10, 0);
  store16(ip + 10, header::checksum_finish(header::checksum_add(0, {ip, ip_length})) ^
                       (s.corrupt_ip_checksum ? 0x0100 : 0));
  uint8_t* tcp = ip + ip_length;
  store16(tcp, s.source_port);
  store16(tcp + 2, s.destination_port);
  store32(tcp + 4, s.seq);
  store32(tcp + 8, s.ack);
  tcp[12] = static_cast<uint8_t>((20 + options) / 4 << 4);
  tcp[13] = s.flags;
  store16(tcp + 14, s.window);
  std::copy(s.options.begin(), s.options.end(), tcp + 20);
  std::copy(s.payload.begin(), s.payload.end(), tcp + 20 + options);
  uint64_t pseudo = header::pseudo_header_sum(s.from.address, s.to, header::kProtocolTcp,
                                              static_cast<uint16_t>(tcp_length));
  uint16_t sum = s.partial_checksum
                     ? static_cast<uint16_t>(~header::checksum_finish(pseudo))
                     : header::checksum_finish(header::checksum_add(pseudo, {tcp, tcp_length}));
  store16(tcp + 16, sum ^ (s.corrupt_tcp_checksum ? 0x0001 : 0));
  return f;
}

// Linux's SYN options: MSS 1460, SACK-permitted, timestamps, NOP, window scale 7.
Bytes linux_options(uint32_t tsval) {
  Bytes o = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
  store32(o.data() + 8, tsval);
  return o;
}

struct TcpFields {
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  std::optional<uint32_t> tsval;
};

// The few fields of an answer the next segment is built from.
TcpFields fields_of(const Bytes& frame) {
  TcpFields f;
  const uint8_t* tcp = frame.data() + 34;
  f.seq = header::load32(tcp + 4);
  f.ack = header::load32(tcp + 8);
  f.flags = tcp[13];
  size_t header_length = (tcp[12] >> 4) * 4u;
  for (size_t i = 20; i + 10 <= header_length; ++i) {
    if (tcp[i] == 8 && tcp[i + 1] == 10) f.tsval = header::load32(tcp + i + 2);
  }
  return f;
}

// An engine in cookie mode `always` (every listener's SYNs answered with cookies) and the program,
// sharing one memory; the engine's frames recorded.
class CookiePathProgramTest : public ::testing::Test {
 protected:
  struct Sink : FrameSink {
    bool send_frame(std::span<const uint8_t> frame, const FrameOffload&) override {
      // ARP requests refreshing an entry in use are not what these tests compare.
      if (frame.size() >= 14 && header::load16(frame.data() + 12) == header::kEtherTypeIpv4) {
        frames.emplace_back(frame.begin(), frame.end());
      }
      return true;
    }
    std::vector<Bytes> frames;
  };

  void SetUp() override {
    auto loaded = CookiePathProgram::load();
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message;
    program_ = std::move(loaded.value());
    EngineConfig config;
    config.tunable.syncookies = tcp::SynCookieMode::kAlways;
    engine_ = std::make_unique<Engine>(config, sink_, tcp::KeySource::seeded(42), monotonic_now());
    listener_ = listen(kPort, 128);
    engine_->attach_cookie_path(program_->memory());
    for (uint8_t host = 1; host <= kPeers; ++host) introduce(peer(host));
  }

  EndpointId listen(uint16_t port, uint32_t backlog) {
    auto id = engine_->create_endpoint();
    EXPECT_TRUE(id.is_ok());
    EXPECT_TRUE(engine_->bind(*id, Ipv4Address{}, port).is_ok());
    EXPECT_TRUE(engine_->listen(*id, backlog).is_ok());
    return *id;
  }

  // The peer's who-has for our address: the engine learns its MAC, so it answers it directly.
  void introduce(const Peer& p) {
    Bytes f(42);
    header::write_ethernet(f.data(), MacAddress::broadcast(), p.mac, header::kEtherTypeArp);
    header::write_arp(f.data() + 14, header::kArpRequest, p.mac, p.address, MacAddress{},
                      kOurAddress);
    engine_->receive_frame(f, monotonic_now());
    sink_.frames.clear();
  }

  CookiePathTestRun run(const Bytes& frame) {
    auto r = program_->run_once(frame);
    EXPECT_TRUE(r.is_ok()) << r.status().message;
    return r.is_ok() ? *r : CookiePathTestRun{};
  }

  // What the engine sends for `frame` at `now`.
  std::vector<Bytes> engine_answer(const Bytes& frame, Time now) {
    sink_.frames.clear();
    engine_->receive_frame(frame, now);
    return std::exchange(sink_.frames, {});
  }

  // Runs the program and expects its answer to be the engine's at one millisecond the program
  // ran in: the program reads the clock itself, somewhere between t0 and t1.
  Bytes expect_same_answer(const Bytes& frame) {
    Time t0 = monotonic_now();
    CookiePathTestRun r = run(frame);
    Time t1 = monotonic_now();
    EXPECT_EQ(r.verdict, TC_ACT_REDIRECT) << describe(frame);
    std::vector<Bytes> engine;
    for (auto ms = std::chrono::floor<milliseconds>(t0); ms <= t1; ms += milliseconds(1)) {
      engine = engine_answer(frame, std::clamp<Time>(ms, t0, t1));
      if (engine.size() == 1 && engine.front() == r.frame) return r.frame;
    }
    ADD_FAILURE() << "the program's answer is not the engine's at any millisecond it ran in: "
                  << describe(frame) << "\n  program: " << describe(r.frame)
                  << "\n  engine:  " << (engine.empty() ? "nothing" : describe(engine.front()));
    return r.frame;
  }

  // The program passes the frame untouched, and so leaves it to the engine.
  void expect_passed(const Bytes& frame) {
    CookiePathTestRun r = run(frame);
    EXPECT_EQ(r.verdict, TC_ACT_OK) << describe(frame);
    EXPECT_EQ(r.frame, frame);
  }
  // The program drops the frame, and the engine sends nothing for it either.
  void expect_dropped(const Bytes& frame) {
    EXPECT_EQ(run(frame).verdict, TC_ACT_SHOT) << describe(frame);
    EXPECT_TRUE(engine_answer(frame, monotonic_now()).empty()) << describe(frame);
  }

  static std::string describe(const Bytes& frame) {
    std::string s;
    char byte[4];
    for (uint8_t b : frame) {
      std::snprintf(byte, sizeof(byte), "%02x", b);
      s += byte;
    }
    return s;
  }

  // The engine's syncookies setting, published to the program as the daemon's update does.
  void set_syncookies(tcp::SynCookieMode mode) {
    TunableConfig tunable;
    tunable.syncookies = mode;
    engine_->update_tunable(tunable);
  }

  const cookie_path_listener& listener_memory(uint16_t port) const {
    return program_->memory().listeners[port];
  }

  // The final ACK of a client for the SYN-ACK `synack` to its SYN `syn`.
  static Segment final_ack(const Segment& syn, const Bytes& synack) {
    TcpFields f = fields_of(synack);
    Segment ack = syn;
    ack.flags = kAck;
    ack.seq = f.ack;
    ack.ack = f.seq + 1;
    ack.window = 502;
    ack.options.clear();
    if (f.tsval) {
      ack.options = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
      store32(ack.options.data() + 4, 6000);
      store32(ack.options.data() + 8, *f.tsval);
    }
    ack.payload.clear();
    return ack;
  }

  static constexpr uint8_t kPeers = 8;
  std::unique_ptr<CookiePathProgram> program_;
  Sink sink_;
  std::unique_ptr<Engine> engine_;
  EndpointId listener_ = 0;
};

// Random SYN options: every MSS class and its edges, window scale, SACK-permitted and
// timestamps in every combination and order, NOP padding, unknown options, and the malformed
// kinds Linux's parser meets (lengths 0, 1, wrong for the kind, running past the end, truncated,
// EOL in the middle, repeats).
Bytes random_options(std::mt19937& rng) {
  auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  static constexpr uint16_t kMss[] = {0,    1,    48,   535,  536,  537,  1299, 1300, 1301,
                                      1439, 1440, 1441, 1459, 1460, 1461, 9000, 65535};
  Bytes o;
  auto add = [&](std::initializer_list<uint8_t> bytes) { o.insert(o.end(), bytes); };
  uint32_t wanted = pick(6);
  for (uint32_t k = 0; k < wanted; ++k) {
    switch (pick(14)) {
      case 0:
      case 1: {
        uint16_t mss = kMss[pick(std::size(kMss))];
        add({2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
        break;
      }
      case 2:
      case 3:
        add({3, 3, static_cast<uint8_t>(pick(18))});
        break;
      case 4:
        add({4, 2});
        break;
      case 5:
      case 6: {
        uint32_t ts = static_cast<uint32_t>(rng());
        add({8, 10, static_cast<uint8_t>(ts >> 24), static_cast<uint8_t>(ts >> 16),
             static_cast<uint8_t>(ts >> 8), static_cast<uint8_t>(ts), 0, 0, 0, 0});
        break;
      }
      case 7:
        add({1});
        break;
      case 8:  // unknown kinds, well formed
        add({static_cast<uint8_t>(30 + pick(200)), 4, 0xaa, 0xbb});
        break;
      case 9:  // a known kind with the wrong length, still well formed
        switch (pick(4)) {
          case 0:
            add({2, 3, 0x05});
            break;
          case 1:
            add({3, 4, 7, 0});
            break;
          case 2:
            add({4, 3, 0});
            break;
          default:
            add({8, 8, 1, 2, 3, 4, 5, 6});
            break;
        }
        break;
      case 10:  // lengths that stop the parser
        add({static_cast<uint8_t>(2 + pick(7)), static_cast<uint8_t>(pick(2))});
        break;
      case 11:  // a length past the end
        add({static_cast<uint8_t>(2 + pick(7)), 60});
        break;
      case 12:
        add({0});
        break;
      default:  // a kind with no length byte: must be last to mean "truncated"
        if (o.size() % 4 == 3) add({2});
        break;
    }
  }
  if (o.size() > 40) o.resize(40);
  if (pick(4) == 0) {
    // Last, a known option whose declared (valid) length runs 1 to 3 bytes past the end.
    static constexpr uint8_t kKinds[][2] = {{2, 4}, {3, 3}, {4, 2}, {8, 10}};
    const auto& [kind, length] = kKinds[pick(4)];
    size_t present = length - 1 - pick(std::min(length - 1, 3));
    o.resize(std::min<size_t>(o.size(), 40 - present - 3));
    while ((o.size() + present) % 4) o.push_back(1);
    Bytes cut = {kind, length, 0x05, 0xb4, 7, 8, 9, 10, 11, 12};
    o.insert(o.end(), cut.begin(), cut.begin() + static_cast<ptrdiff_t>(present));
    return o;
  }
  // Padded to the data offset with NOPs, EOLs or zeros, as senders do.
  uint8_t pad = pick(3) == 0 ? 1 : 0;
  while (o.size() % 4) o.push_back(pad);
  return o;
}

TEST_F(CookiePathProgramTest, RandomSynsGetTheEnginesSynAckByteForByte) {
  std::mt19937 rng(12);
  size_t with_payload = 0, with_timestamps = 0;
  for (int i = 0; i < 2500; ++i) {
    Segment syn;
    syn.from = peer(static_cast<uint8_t>(1 + rng() % kPeers));
    syn.source_port = static_cast<uint16_t>(1024 + rng() % 64000);
    syn.seq = static_cast<uint32_t>(rng());
    syn.ack = rng() % 4 == 0 ? static_cast<uint32_t>(rng()) : 0;  // ignored without ACK
    syn.window = static_cast<uint16_t>(rng());
    syn.flags = static_cast<uint8_t>(kSyn | (rng() % 4 == 0 ? kPsh | 0xc0 : 0));
    syn.options = random_options(rng);
    if (rng() % 8 == 0) {
      syn.payload.resize(1 + rng() % 200);
      for (uint8_t& b : syn.payload) b = static_cast<uint8_t>(rng());
      ++with_payload;
    }
    if (rng() % 8 == 0) syn.ethernet_padding = 1 + rng() % 20;
    if (rng() % 16 == 0) syn.to_mac = MacAddress::broadcast();
    Bytes frame = frame_of(syn);
    Bytes answer = expect_same_answer(frame);
    with_timestamps += fields_of(answer).tsval.has_value();
    if (HasFailure()) break;
  }
  EXPECT_GT(with_payload, 200u);
  EXPECT_GT(with_timestamps, 500u);
  EXPECT_EQ(listener_memory(kPort).synacks, 2500u);
}

TEST_F(CookiePathProgramTest, APartialChecksumFromTheLocalStackCountsAsFinished) {
  Segment syn;
  syn.options = linux_options(777);
  syn.partial_checksum = true;
  Bytes partial = frame_of(syn);
  Time t0 = monotonic_now();
  CookiePathTestRun r = run(partial);
  Time t1 = monotonic_now();
  ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
  // The engine reads the frame after the kernel has finished the checksum.
  syn.partial_checksum = false;
  Bytes finished = frame_of(syn);
  bool same = false;
  for (auto ms = std::chrono::floor<milliseconds>(t0); ms <= t1 && !same; ms += milliseconds(1)) {
    auto engine = engine_answer(finished, std::clamp<Time>(ms, t0, t1));
    same = engine.size() == 1 && engine.front() == r.frame;
  }
  EXPECT_TRUE(same);
}

TEST_F(CookiePathProgramTest, ACookieTheProgramIssuedMakesAConnectionInTheEngine) {
  Segment syn;
  syn.options = linux_options(777);
  Bytes synack = expect_same_answer(frame_of(syn));
  Bytes ack = frame_of(final_ack(syn, synack));
  expect_passed(ack);
  EXPECT_EQ(listener_memory(kPort).acks_passed, 1u);
  EXPECT_TRUE(engine_answer(ack, monotonic_now()).empty());
  auto accepted = engine_->accept(listener_);
  ASSERT_TRUE(accepted.is_ok()) << accepted.status().message;
  // The tuple is the engine's now: the program leaves all of it to the engine, even a SYN.
  expect_passed(frame_of(syn));
}

// The engine makes the connection only when it reads the cookie ACK from the queue; until then
// the client's next segments find no record, yet they are the connection's: more data (whose
// sequence number no longer checks as a cookie) and the client's RST must follow the ACK into
// the queue, not get the listener's RST or be dropped as a RST to a listener.
TEST_F(CookiePathProgramTest, SegmentsAfterAPassedCookieAckFollowItIntoTheQueue) {
  Segment syn;
  syn.options = linux_options(99);
  Bytes synack = expect_same_answer(frame_of(syn));
  Segment ack = final_ack(syn, synack);
  expect_passed(frame_of(ack));  // the engine has not read it yet
  Segment more = ack;
  more.seq += 100;  // after 100 bytes of data the client sent with (or after) the ACK
  more.payload = Bytes(50, 'x');
  expect_passed(frame_of(more));
  Segment reset = ack;
  reset.flags = kRst | kAck;
  reset.seq += 150;
  expect_passed(frame_of(reset));
  EXPECT_EQ(listener_memory(kPort).acks_passed, 1u);
  EXPECT_EQ(listener_memory(kPort).acks_refused, 0u);
  // Another client's segments get the listener's answers as before.
  Segment stranger = more;
  stranger.from = peer(3);
  EXPECT_EQ(fields_of(expect_same_answer(frame_of(stranger))).flags, kRst);
}

TEST_F(CookiePathProgramTest, ACookieTheEngineIssuedPassesTheProgram) {
  Segment syn;
  syn.from = peer(2);
  syn.options = linux_options(4242);
  auto engine = engine_answer(frame_of(syn), monotonic_now());
  ASSERT_EQ(engine.size(), 1u);
  expect_passed(frame_of(final_ack(syn, engine.front())));
  EXPECT_EQ(listener_memory(kPort).acks_passed, 1u);
  EXPECT_EQ(listener_memory(kPort).acks_refused, 0u);
}

TEST_F(CookiePathProgramTest, AForgedCookieGetsTheEnginesResetByteForByte) {
  Segment syn;
  syn.options = linux_options(777);
  Bytes synack = expect_same_answer(frame_of(syn));
  for (uint32_t wrong : {1u, 2u, 0x01000000u, 0x80000000u}) {
    Segment forged = final_ack(syn, synack);
    forged.ack += wrong;
    Bytes frame = frame_of(forged);
    CookiePathTestRun r = run(frame);
    EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
    auto engine = engine_answer(frame, monotonic_now());
    ASSERT_EQ(engine.size(), 1u);
    EXPECT_EQ(r.frame, engine.front()) << describe(r.frame) << "\n" << describe(engine.front());
    TcpFields rst = fields_of(r.frame);
    EXPECT_EQ(rst.flags, kRst);
    EXPECT_EQ(rst.seq, forged.ack);
  }
  // A SYN-ACK to a listener is answered the same way.
  Segment synack_to_listener = syn;
  synack_to_listener.flags = kSyn | kAck;
  synack_to_listener.ack = 99;
  Bytes frame = frame_of(synack_to_listener);
  CookiePathTestRun r = run(frame);
  EXPECT_EQ(r.verdict, TC_ACT_REDIRECT);
  auto engine = engine_answer(frame, monotonic_now());
  ASSERT_EQ(engine.size(), 1u);
  EXPECT_EQ(r.frame, engine.front());
  EXPECT_EQ(listener_memory(kPort).acks_refused, 4u);
  EXPECT_EQ(program_->stats().resets, 5u);
}

TEST_F(CookiePathProgramTest, SecretRotationInStep) {
  Segment before;
  before.options = linux_options(1);
  Bytes old_synack = expect_same_answer(frame_of(before));
  engine_->rotate_cookie_secret();
  // A cookie made before the rotation still passes the program and makes a connection.
  Bytes ack = frame_of(final_ack(before, old_synack));
  expect_passed(ack);
  EXPECT_TRUE(engine_answer(ack, monotonic_now()).empty());
  EXPECT_TRUE(engine_->accept(listener_).is_ok());
  // New cookies are the engine's under the new secret.
  Segment after;
  after.from = peer(3);
  after.options = linux_options(2);
  Bytes new_synack = expect_same_answer(frame_of(after));
  EXPECT_NE(fields_of(new_synack).seq, fields_of(old_synack).seq);
  expect_passed(frame_of(final_ack(after, new_synack)));
  EXPECT_EQ(listener_memory(kPort).acks_passed, 2u);
}

TEST_F(CookiePathProgramTest, WhatIsNotForTheEnginesTcpPassesUntouched) {
  Segment syn;
  syn.options = linux_options(5);
  // Not to our MAC, not to our address, not TCP, fragments (the engine drops those itself).
  Segment other_mac = syn;
  other_mac.to_mac = {{0x02, 0, 0, 0, 0, 0x99}};
  expect_passed(frame_of(other_mac));
  Segment other_address = syn;
  other_address.to = Ipv4Address{0xc6120063};
  expect_passed(frame_of(other_address));
  Segment udp = syn;
  udp.protocol = 17;
  expect_passed(frame_of(udp));
  for (uint16_t fragment : {0x2000, 0x0001, 0x2010}) {
    Segment f = syn;
    f.ip_fragment = fragment;
    expect_passed(frame_of(f));
  }
  // ARP.
  Bytes arp(42);
  header::write_ethernet(arp.data(), MacAddress::broadcast(), peer(1).mac, header::kEtherTypeArp);
  header::write_arp(arp.data() + 14, header::kArpRequest, peer(1).mac, peer(1).address,
                    MacAddress{}, kOurAddress);
  expect_passed(arp);
  EXPECT_EQ(listener_memory(kPort).synacks, 0u);
  EXPECT_EQ(program_->stats().resets, 0u);
}

TEST_F(CookiePathProgramTest, ATupleTheEngineHoldsStatefulPassesUntouched) {
  // A connection the engine opened itself: a segment on its tuple is not the listener's.
  auto id = engine_->create_endpoint();
  ASSERT_TRUE(id.is_ok());
  ASSERT_TRUE(engine_->connect(*id, peer(4).address, 5555).is_ok());
  sink_.frames.clear();
  Segment on_tuple;
  on_tuple.from = peer(4);
  on_tuple.source_port = 5555;
  on_tuple.destination_port = static_cast<uint16_t>(engine_->query(*id)->local_port);
  // No listener on that port, so only the live tuple keeps the program from answering with RST.
  ASSERT_EQ(listener_memory(on_tuple.destination_port).listening, 0u);
  on_tuple.flags = kAck;
  on_tuple.ack = 12345;
  expect_passed(frame_of(on_tuple));
  EXPECT_EQ(program_->stats().resets, 0u);
}

TEST_F(CookiePathProgramTest, WhatTheEngineDropsIsDropped) {
  Segment syn;
  syn.options = linux_options(5);
  Segment bad_ip = syn;
  bad_ip.corrupt_ip_checksum = true;
  expect_dropped(frame_of(bad_ip));
  Segment bad_tcp = syn;
  bad_tcp.corrupt_tcp_checksum = true;
  expect_dropped(frame_of(bad_tcp));
  EXPECT_EQ(program_->stats().bad_checksum, 2u);
  // Martian sources: 0/8, 127/8, multicast, 240/4, ours, our subnet's broadcast.
  for (uint32_t source : {0x00000001u, 0x7f000001u, 0xe0000001u, 0xf0000001u, 0xffffffffu,
                          kOurAddress.value, 0xc61200ffu}) {
    Segment martian = syn;
    martian.from.address = Ipv4Address{source};
    expect_dropped(frame_of(martian));
  }
  EXPECT_EQ(program_->stats().invalid_source, 7u);
  // What a listener ignores: RST (with or without ACK), SYN|FIN, no flags, FIN alone.
  for (uint8_t flags : {kRst, uint8_t(kRst | kAck), uint8_t(kSyn | kFin), uint8_t(0), kFin}) {
    Segment ignored = syn;
    ignored.flags = flags;
    expect_dropped(frame_of(ignored));
  }
  EXPECT_EQ(program_->stats().ignored, 5u);
  EXPECT_EQ(listener_memory(kPort).synacks, 0u);
}

TEST_F(CookiePathProgramTest, AFullAcceptQueueDropsSynsAsTheEngineDoes) {
  constexpr uint16_t kSmall = 8081;
  EndpointId small = listen(kSmall, 1);
  (void)small;
  Segment syn;
  syn.destination_port = kSmall;
  syn.options = linux_options(9);
  Bytes synack = expect_same_answer(frame_of(syn));
  Bytes ack = frame_of(final_ack(syn, synack));
  expect_passed(ack);
  EXPECT_TRUE(engine_answer(ack, monotonic_now()).empty());  // queued, not accepted
  ASSERT_NE(listener_memory(kSmall).accept_queue_full, 0u);
  Segment next = syn;
  next.source_port = 40001;
  expect_dropped(frame_of(next));
  EXPECT_EQ(listener_memory(kSmall).syns_dropped, 1u);
  // Out of cookie mode too: the engine drops the SYN before it would make a half-open record.
  set_syncookies(tcp::SynCookieMode::kAuto);
  ASSERT_EQ(listener_memory(kSmall).mode, COOKIE_PATH_OFF);
  next.source_port = 40002;
  expect_dropped(frame_of(next));
  EXPECT_EQ(listener_memory(kSmall).syns_dropped, 2u);
}

// Tcp::receive's last branch: nobody listens, so anything but RST gets Tcp::send_reset_for's
// answer, RST <SEQ=SEG.ACK> with ACK, else RST|ACK acknowledging the segment's sequence space
// (payload, SYN and FIN); a RST gets nothing.
TEST_F(CookiePathProgramTest, APortWithoutAListenerGetsTheEnginesReset) {
  struct Case {
    uint8_t flags;
    size_t payload;
    uint32_t sequence_length;  // what SEG.LEN must be: the RST|ACK acknowledges seq + it
  };
  const Case cases[] = {
      {kSyn, 0, 1},
      {kFin, 0, 1},
      {uint8_t(kSyn | kFin), 0, 2},
      {kPsh, 100, 100},
      {uint8_t(kSyn | kFin), 7, 9},
      {uint8_t(kFin | kPsh), 33, 34},
      {uint8_t(0), 0, 0},
      {kAck, 0, 0},
      {uint8_t(kAck | kPsh), 500, 0},
      {uint8_t(kSyn | kAck), 0, 0},
      {uint8_t(kFin | kAck), 1, 0},
  };
  uint16_t source_port = 50000;
  for (const Case& c : cases) {
    Segment s;
    s.destination_port = 9090;
    s.source_port = source_port++;
    s.flags = c.flags;
    s.seq = 0xfffffff0u;  // SEG.SEQ + SEG.LEN wraps for the longer ones
    s.ack = 0x12345678u;
    s.payload.assign(c.payload, 0x5a);
    if (c.flags & kSyn) s.options = linux_options(11);
    Bytes answer = expect_same_answer(frame_of(s));
    TcpFields rst = fields_of(answer);
    if (c.flags & kAck) {
      EXPECT_EQ(rst.flags, kRst);
      EXPECT_EQ(rst.seq, s.ack);
    } else {
      EXPECT_EQ(rst.flags, kRst | kAck);
      EXPECT_EQ(rst.seq, 0u);
      EXPECT_EQ(rst.ack, s.seq + c.sequence_length) << int{c.flags} << " " << c.payload;
    }
  }
  for (uint8_t flags : {kRst, uint8_t(kRst | kAck), uint8_t(kRst | kSyn)}) {
    Segment rst;
    rst.destination_port = 9090;
    rst.flags = flags;
    expect_dropped(frame_of(rst));
  }
  CookiePathStats stats = program_->stats();
  EXPECT_EQ(stats.closed_port_resets, std::size(cases));
  EXPECT_EQ(stats.resets, std::size(cases));
  EXPECT_EQ(stats.ignored, 3u);
}

// The flood shape that got past the program while it only acted on listeners in cookie mode:
// spoofed ACKs to a listener in auto mode that has sent no cookie. The engine checks no cookie
// (none can be valid) and answers each with RST <SEQ=SEG.ACK>; so does the program.
TEST_F(CookiePathProgramTest, AnAckFloodToAListenerNotInCookieModeGetsTheEnginesReset) {
  set_syncookies(tcp::SynCookieMode::kAuto);
  constexpr uint16_t kQuiet = 8082;
  listen(kQuiet, 128);
  ASSERT_EQ(listener_memory(kQuiet).mode, COOKIE_PATH_OFF);
  ASSERT_EQ(listener_memory(kQuiet).cookies_checkable_until, 0u);
  std::mt19937 rng(7);
  constexpr uint64_t kAcks = 200;
  for (uint64_t i = 0; i < kAcks; ++i) {
    Segment ack;
    ack.from = peer(static_cast<uint8_t>(1 + rng() % kPeers));
    ack.source_port = static_cast<uint16_t>(1024 + rng() % 64000);
    ack.destination_port = kQuiet;
    ack.flags = static_cast<uint8_t>(kAck | (rng() % 2 ? kPsh : 0));
    ack.seq = static_cast<uint32_t>(rng());
    ack.ack = static_cast<uint32_t>(rng());
    if (rng() % 4 == 0) ack.payload.assign(1 + rng() % 100, 0x11);
    TcpFields rst = fields_of(expect_same_answer(frame_of(ack)));
    EXPECT_EQ(rst.flags, kRst);
    EXPECT_EQ(rst.seq, ack.ack);
    if (HasFailure()) break;
  }
  EXPECT_EQ(listener_memory(kQuiet).acks_refused, kAcks);
  EXPECT_EQ(listener_memory(kQuiet).acks_passed, 0u);
  EXPECT_EQ(program_->stats().closed_port_resets, 0u);
}

// With syncookies `never` no ACK is a cookie: even one the program issued (while the listener
// was in cookie mode) gets the engine's RST, unchecked.
TEST_F(CookiePathProgramTest, WithSyncookiesNeverEvenAValidCookieGetsTheEnginesReset) {
  Segment syn;
  syn.options = linux_options(31);
  Bytes synack = expect_same_answer(frame_of(syn));
  set_syncookies(tcp::SynCookieMode::kNever);
  ASSERT_EQ(listener_memory(kPort).mode, COOKIE_PATH_OFF);
  ASSERT_EQ(listener_memory(kPort).cookies_checkable_until, 0u);
  Segment ack = final_ack(syn, synack);
  TcpFields rst = fields_of(expect_same_answer(frame_of(ack)));
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(rst.seq, ack.ack);
  EXPECT_EQ(listener_memory(kPort).acks_refused, 1u);
  EXPECT_EQ(listener_memory(kPort).acks_passed, 0u);
}

// Out of cookie mode, a listener's cookies stay checkable for the lifetime of the last one sent
// (Tcp::cookies_checkable): the program checks them as the engine does, passes a valid one (the
// engine makes the connection) and answers a forged one with RST.
TEST_F(CookiePathProgramTest, AnAckToAListenerWhoseLastCookieIsRecentIsCheckedAsACookie) {
  Segment syn;
  syn.options = linux_options(41);
  Bytes synack = expect_same_answer(frame_of(syn));
  set_syncookies(tcp::SynCookieMode::kAuto);  // the table is empty: out of cookie mode
  ASSERT_EQ(listener_memory(kPort).mode, COOKIE_PATH_OFF);
  ASSERT_GT(listener_memory(kPort).cookies_checkable_until,
            static_cast<uint64_t>(monotonic_now().count()));
  Segment forged = final_ack(syn, synack);
  forged.ack += 1;
  TcpFields rst = fields_of(expect_same_answer(frame_of(forged)));
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(rst.seq, forged.ack);
  EXPECT_EQ(listener_memory(kPort).acks_refused, 1u);

  Bytes ack = frame_of(final_ack(syn, synack));
  expect_passed(ack);
  EXPECT_EQ(listener_memory(kPort).acks_passed, 1u);
  EXPECT_TRUE(engine_answer(ack, monotonic_now()).empty());
  EXPECT_TRUE(engine_->accept(listener_).is_ok());
}

// Out of cookie mode a listener answers a SYN from a half-open record: state, so the program
// passes it; what the listener ignores or refuses is still dropped or answered.
TEST_F(CookiePathProgramTest, ASynToAListenerNotInCookieModePassesUntouched) {
  set_syncookies(tcp::SynCookieMode::kAuto);
  ASSERT_EQ(listener_memory(kPort).mode, COOKIE_PATH_OFF);
  Segment syn;
  syn.options = linux_options(51);
  Bytes frame = frame_of(syn);
  expect_passed(frame);
  auto synack = engine_answer(frame, monotonic_now());
  ASSERT_EQ(synack.size(), 1u);
  EXPECT_EQ(fields_of(synack.front()).flags, kSyn | kAck);
  // The half-open record's tuple is the engine's now: its retransmitted SYN passes too.
  expect_passed(frame);
  // From another port: RST, SYN|FIN and a bare FIN are ignored, a SYN-ACK is refused.
  for (uint8_t flags : {kRst, uint8_t(kSyn | kFin), kFin}) {
    Segment ignored = syn;
    ignored.source_port = 40100;
    ignored.flags = flags;
    expect_dropped(frame_of(ignored));
  }
  Segment synack_to_listener = syn;
  synack_to_listener.source_port = 40101;
  synack_to_listener.flags = kSyn | kAck;
  synack_to_listener.ack = 77;
  EXPECT_EQ(fields_of(expect_same_answer(frame_of(synack_to_listener))).seq, 77u);
  EXPECT_EQ(listener_memory(kPort).synacks, 0u);
  EXPECT_EQ(program_->stats().ignored, 3u);
}

// IP options: the engine reads past them (the TCP header at IHL*4) and answers without any; so
// does the program, so they are no way around it. Every length, with the checksum over them.
TEST_F(CookiePathProgramTest, SegmentsWithIpOptionsGetTheEnginesAnswerByteForByte) {
  std::mt19937 rng(3);
  uint16_t source_port = 41000;
  for (size_t words = 1; words <= 10; ++words) {
    Bytes ip_options(words * 4, 1);  // NOPs, then what a sender may put there
    for (size_t i = 1; i < ip_options.size(); ++i) ip_options[i] = static_cast<uint8_t>(rng());
    ip_options.back() = 0;  // EOL
    Segment syn;
    syn.source_port = source_port++;
    syn.seq = static_cast<uint32_t>(rng());
    syn.options = linux_options(static_cast<uint32_t>(rng()));
    syn.ip_options = ip_options;
    Bytes synack = expect_same_answer(frame_of(syn));
    EXPECT_EQ(synack.size(), 14u + 20 + 40);  // no IP options in the answer
    // A forged cookie ACK, with options too, gets the RST; the real one passes (and after it,
    // everything on its tuple, SegmentsAfterAPassedCookieAckFollowItIntoTheQueue).
    Segment ack = final_ack(syn, synack);
    Segment forged = ack;
    forged.ack ^= 0x00010000;
    EXPECT_EQ(fields_of(expect_same_answer(frame_of(forged))).flags, kRst);
    expect_passed(frame_of(ack));
    // To a port without a listener: RST|ACK.
    Segment closed = syn;
    closed.destination_port = 9090;
    closed.payload.assign(words, 0x77);
    EXPECT_EQ(fields_of(expect_same_answer(frame_of(closed))).flags, kRst | kAck);
    // The IP checksum covers the options.
    Bytes corrupt = frame_of(syn);
    corrupt[14 + 20 + 1] ^= 0x40;
    expect_dropped(corrupt);
    if (HasFailure()) break;
  }
  EXPECT_EQ(listener_memory(kPort).synacks, 10u);
  EXPECT_EQ(listener_memory(kPort).acks_passed, 10u);
  EXPECT_EQ(program_->stats().bad_checksum, 10u);
}

// Without a gateway the engine sends nothing to an off-link peer: what it would answer is dropped
// in the program instead of passed to the engine (where it would be dropped after the queue);
// what makes state in the engine still passes.
TEST_F(CookiePathProgramTest, AnswersToAnOffLinkPeerWithoutAGatewayAreDropped) {
  Segment syn;
  syn.from.address = Ipv4Address{0xc6130005};  // 198.19.0.5, outside 198.18.0.0/24
  syn.options = linux_options(61);
  expect_dropped(frame_of(syn));
  Segment ack = syn;
  ack.flags = kAck;
  ack.ack = 999;
  expect_dropped(frame_of(ack));
  Segment closed = syn;
  closed.destination_port = 9090;
  expect_dropped(frame_of(closed));
  EXPECT_EQ(program_->stats().no_route, 3u);
  EXPECT_EQ(program_->stats().resets, 0u);
  EXPECT_EQ(listener_memory(kPort).synacks, 0u);
  set_syncookies(tcp::SynCookieMode::kAuto);
  expect_passed(frame_of(syn));  // a half-open record in the engine
}

// The kernel's own time per frame. A SYN is rewritten into its SYN-ACK by the first run, so
// BPF_PROG_TEST_RUN's `repeat` would time the SYN-ACK after it; each SYN is a run of its own
// (the kernel's timing then includes one clock read per run), and so is each forged ACK (the
// spoofed ACK flood's shape, checked as a cookie and answered with RST). An ACK the program
// passes is left as it was, so `repeat` times it honestly.
TEST_F(CookiePathProgramTest, KernelTimePerFrame) {
  constexpr int kSyns = 100000;
  Segment syn;
  syn.options = linux_options(5);
  Segment other_host = syn;
  other_host.to_mac = {{0x02, 0, 0, 0, 0, 0x99}};
  Bytes passed = frame_of(other_host);
  Segment forged;
  forged.flags = kAck;
  uint64_t syn_ns = 0, pass_ns = 0, forged_ns = 0;
  for (int i = 0; i < kSyns; ++i) {
    syn.source_port = static_cast<uint16_t>(1024 + i % 60000);
    syn.seq = static_cast<uint32_t>(i) * 7919u;
    auto r = program_->run_once(frame_of(syn));
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->verdict, TC_ACT_REDIRECT);
    syn_ns += r->duration_ns;
    forged.source_port = syn.source_port;
    forged.seq = syn.seq;
    forged.ack = static_cast<uint32_t>(i) * 104729u;
    auto f = program_->run_once(frame_of(forged));
    ASSERT_TRUE(f.is_ok());
    ASSERT_EQ(f->verdict, TC_ACT_REDIRECT);
    forged_ns += f->duration_ns;
    // The same single-run timing of a frame passed at once: the floor of that method.
    auto p = program_->run_once(passed);
    ASSERT_TRUE(p.is_ok());
    pass_ns += p->duration_ns;
  }
  Bytes synack = expect_same_answer(frame_of(syn));
  auto ack = program_->run_once(frame_of(final_ack(syn, synack)), 100000);
  ASSERT_TRUE(ack.is_ok());
  ASSERT_EQ(ack->verdict, TC_ACT_OK);
  auto pass = program_->run_once(passed, 100000);
  ASSERT_TRUE(pass.is_ok());
  std::printf(
      "kernel cookie path, kernel time per frame: SYN answered %.0f ns, forged ACK answered with "
      "RST %.0f ns (single runs, mean of %d; a frame passed at once takes %.0f ns timed the same "
      "way); cookie ACK checked and passed %u ns, frame for another host %u ns (repeat 100000)\n",
      static_cast<double>(syn_ns) / kSyns, static_cast<double>(forged_ns) / kSyns, kSyns,
      static_cast<double>(pass_ns) / kSyns, ack->duration_ns, pass->duration_ns);
}

}  // namespace
}  // namespace tapstack::link
