// The test bench for the engine: a fake clock moved by hand, a FrameSink that records what the
// engine sends, a scripted peer that crafts Ethernet/IPv4/TCP/ARP frames with libtins and
// dissects the engine's output with libtins (an implementation independent of stack/header),
// an event recorder and a counter snapshot that checks every counter's delta at once.
#pragma once

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/engine.h"
#include "stack/header/checksum.h"

namespace tapstack::engine_test {

using Bytes = std::vector<uint8_t>;

// TCP flags as libtins numbers them, so expectations do not reuse the engine's constants.
inline constexpr uint8_t kFin = Tins::TCP::FIN;
inline constexpr uint8_t kSyn = Tins::TCP::SYN;
inline constexpr uint8_t kRst = Tins::TCP::RST;
inline constexpr uint8_t kPsh = Tins::TCP::PSH;
inline constexpr uint8_t kAck = Tins::TCP::ACK;

inline constexpr Time kStart = seconds(1000);
inline constexpr uint64_t kSeed = 42;

inline const Tins::HWAddress<6> kOurMac("02:00:00:00:00:02");
inline const Tins::IPv4Address kOurIp("198.18.0.2");
inline const Tins::HWAddress<6> kBroadcastMac("ff:ff:ff:ff:ff:ff");

// Addresses cross between libtins and the engine as text, so no byte-order assumption is shared.
inline Ipv4Address to_engine(const Tins::IPv4Address& a) {
  return *Ipv4Address::parse(a.to_string());
}

// Milliseconds between two instants, for readable expectations on TSval.
inline uint32_t ms_between(Time from, Time to) {
  return static_cast<uint32_t>(std::chrono::duration_cast<milliseconds>(to - from).count());
}

struct Timestamp {
  uint32_t value = 0;  // TSval
  uint32_t echo = 0;   // TSecr
  bool operator==(const Timestamp&) const = default;
};

// The family the scripted peers speak in the running test: IPv4 unless an EngineFamilyTest
// runs it for IPv6. (gtest runs one test at a time; every EngineTest sets it.)
inline IpFamily current_family = IpFamily::kIpv4;

// A remote host on the link (or beyond the gateway). Over IPv6 it is 2001:db8::a.b.c.d, its
// IPv4 address in the low 32 bits, on our 2001:db8::/64.
struct Peer {
  Tins::IPv4Address ip{"198.18.0.1"};
  Tins::HWAddress<6> mac{"02:00:00:00:00:01"};
  uint16_t port = 40000;

  Tins::IPv6Address ip6() const { return Tins::IPv6Address("2001:db8::" + ip.to_string()); }
  // Its address in the running test's family, as libtins writes it.
  std::string ip_text() const {
    return current_family == IpFamily::kIpv4 ? ip.to_string() : ip6().to_string();
  }
  IpAddress address() const { return *IpAddress::parse(ip_text()); }
};

// What the scripted peer puts into one TCP segment.
struct SegmentSpec {
  uint8_t flags = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 65535;
  std::optional<uint16_t> mss{};
  std::optional<uint8_t> window_scale{};
  bool sack_permitted = false;
  std::optional<Timestamp> timestamp{};
  Bytes payload{};
  std::vector<std::pair<uint32_t, uint32_t>> sack{};  // SACK blocks: [left, right) edges
};

// The options Linux puts into a SYN: MSS 1460, SACK-permitted, timestamps, window scale 7.
inline SegmentSpec linux_syn(uint32_t seq, uint32_t tsval = 5000) {
  return {.flags = kSyn,
          .seq = seq,
          .window = 64240,
          .mss = 1460,
          .window_scale = 7,
          .sack_permitted = true,
          .timestamp = Timestamp{tsval, 0}};
}

// A TCP segment the engine sent, as libtins reads it.
struct SentSegment {
  std::string eth_destination;
  std::string eth_source;
  std::string ip_source;
  std::string ip_destination;
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;
  bool sack_permitted = false;
  std::optional<Timestamp> timestamp;
  std::vector<uint8_t> option_kinds;  // in wire order, NOPs included
  size_t payload_size = 0;
  bool checksums_ok = false;  // IPv4 header (IPv6 has none) and TCP, as libtins recomputes them
};

// A Linux-like SYN-ACK with sequence `irs` answering our SYN `ours`, echoing its TSval.
inline SegmentSpec linux_synack(uint32_t irs, const SentSegment& ours, uint32_t tsval = 9000) {
  SegmentSpec s = linux_syn(irs, tsval);
  s.flags = kSyn | kAck;
  s.ack = ours.seq + 1;
  s.timestamp->echo = ours.timestamp ? ours.timestamp->value : 0;
  return s;
}

inline std::string flags_string(uint8_t flags) {
  std::string s;
  if (flags & kSyn) s += 'S';
  if (flags & kFin) s += 'F';
  if (flags & kRst) s += 'R';
  if (flags & kPsh) s += 'P';
  if (flags & kAck) s += '.';
  return s.empty() ? "none" : s;
}

inline void PrintTo(const SentSegment& s, std::ostream* os) {
  *os << "[" << flags_string(s.flags) << "] " << s.ip_source << ":" << s.source_port << " > "
      << s.ip_destination << ":" << s.destination_port << " seq=" << s.seq << " ack=" << s.ack
      << " win=" << s.window << " len=" << s.payload_size;
}

inline std::optional<SentSegment> dissect_tcp(const Bytes& frame) {
  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  const auto* ip = eth.find_pdu<Tins::IP>();
  const auto* ip6 = eth.find_pdu<Tins::IPv6>();
  const auto* tcp = eth.find_pdu<Tins::TCP>();
  if ((!ip && !ip6) || !tcp) return std::nullopt;
  SentSegment s;
  s.eth_destination = eth.dst_addr().to_string();
  s.eth_source = eth.src_addr().to_string();
  s.ip_source = ip ? ip->src_addr().to_string() : ip6->src_addr().to_string();
  s.ip_destination = ip ? ip->dst_addr().to_string() : ip6->dst_addr().to_string();
  s.source_port = tcp->sport();
  s.destination_port = tcp->dport();
  s.seq = tcp->seq();
  s.ack = tcp->ack_seq();
  s.flags = static_cast<uint8_t>(tcp->flags());
  s.window = tcp->window();
  if (tcp->search_option(Tins::TCP::MSS)) s.mss = tcp->mss();
  if (tcp->search_option(Tins::TCP::WSCALE)) s.window_scale = tcp->winscale();
  s.sack_permitted = tcp->has_sack_permitted();
  if (tcp->search_option(Tins::TCP::TSOPT)) {
    auto [value, echo] = tcp->timestamp();
    s.timestamp = Timestamp{value, echo};
  }
  for (const auto& option : tcp->options()) s.option_kinds.push_back(option.option());
  if (const auto* raw = tcp->find_pdu<Tins::RawPDU>()) s.payload_size = raw->payload().size();
  // libtins recomputes both checksums when it serializes a copy; they must equal what we sent.
  Tins::EthernetII copy = eth;
  Bytes again = copy.serialize();
  Tins::EthernetII reparsed(again.data(), static_cast<uint32_t>(again.size()));
  s.checksums_ok = (!ip || reparsed.rfind_pdu<Tins::IP>().checksum() == ip->checksum()) &&
                   reparsed.rfind_pdu<Tins::TCP>().checksum() == tcp->checksum();
  return s;
}

// An ARP packet the engine sent, as libtins reads it.
struct SentArp {
  std::string eth_destination;
  std::string eth_source;
  uint16_t opcode = 0;
  std::string sender_mac;
  std::string sender_ip;
  std::string target_mac;
  std::string target_ip;
};

inline std::optional<SentArp> dissect_arp(const Bytes& frame) {
  Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
  const auto* arp = eth.find_pdu<Tins::ARP>();
  if (!arp) return std::nullopt;
  return SentArp{eth.dst_addr().to_string(),
                 eth.src_addr().to_string(),
                 arp->opcode(),
                 arp->sender_hw_addr().to_string(),
                 arp->sender_ip_addr().to_string(),
                 arp->target_hw_addr().to_string(),
                 arp->target_ip_addr().to_string()};
}

// Records every frame the engine sends, finished as a link that takes offloads would finish it
// (the partial checksum completed), counting the frames that asked for that and those that asked
// to be cut into segments.
class RecordingSink : public FrameSink {
 public:
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload& offload) override {
    Bytes& f = frames.emplace_back(frame.begin(), frame.end());
    if (offload.checksum_start) {
      ++partial_checksums;
      const size_t field = size_t{offload.checksum_start} + offload.checksum_offset;
      const uint16_t sum = header::checksum_finish(
          header::checksum_add(0, std::span<const uint8_t>(f).subspan(offload.checksum_start)));
      f[field] = static_cast<uint8_t>(sum >> 8);
      f[field + 1] = static_cast<uint8_t>(sum);
    }
    if (offload.segment_size) {
      ++segmented_frames;
      last_segment_size = offload.segment_size;
    }
    return true;
  }
  std::vector<Bytes> frames;
  size_t partial_checksums = 0;
  size_t segmented_frames = 0;
  uint16_t last_segment_size = 0;
};

// Every counter and drop reason by name ("drop.<reason>" for drops).
using Counters = std::map<std::string, uint64_t>;

inline Counters snapshot(const Stats& stats) {
  Counters c;
  stats.for_each_counter([&](std::string_view name, std::string_view, uint64_t value) {
    c[std::string(name)] = value;
  });
  for (size_t i = 0; i < kDropReasons.size(); ++i) {
    c["drop." + std::string(kDropReasons[i].name)] = stats.drops[i].get();
  }
  return c;
}

// ---- IPv6 on the link: addresses and Neighbour Discovery frames ----

inline const Tins::IPv6Address kOurLinkLocal("fe80::ff:fe00:2");  // EUI-64 of kOurMac
inline const Tins::IPv6Address kOurGlobal("2001:db8::2");
inline const Tins::IPv6Address kAllNodes("ff02::1");
inline const Tins::HWAddress<6> kAllNodesMac("33:33:00:00:00:01");

// The solicited-node group of `a` (RFC 4291 §2.7.1) and its Ethernet address (RFC 2464 §7).
inline Tins::IPv6Address solicited_node(const Tins::IPv6Address& a) {
  Tins::IPv6Address group("ff02::1:ff00:0");
  std::copy(a.begin() + 13, a.end(), group.begin() + 13);
  return group;
}
inline Tins::HWAddress<6> multicast_mac(const Tins::IPv6Address& group) {
  const uint8_t* low = &*(group.begin() + 12);
  uint8_t mac[6] = {0x33, 0x33, low[0], low[1], low[2], low[3]};
  return Tins::HWAddress<6>(mac);
}

// A remote IPv6 host on the link.
struct Peer6 {
  Tins::IPv6Address ip{"2001:db8::1"};
  Tins::HWAddress<6> mac{"02:00:00:00:00:01"};
};

inline Bytes ipv6_frame(const Tins::HWAddress<6>& eth_destination,
                        const Tins::HWAddress<6>& eth_source, Tins::IPv6 ip, Tins::PDU&& inner) {
  Tins::EthernetII frame = Tins::EthernetII(eth_destination, eth_source) / ip / inner;
  return frame.serialize();
}
// A neighbour solicitation for `target` from `source` (:: for a DAD probe) to the target's
// solicited-node group (or to `unicast`, at our MAC), with the peer's MAC in a source
// link-layer option unless from ::.
inline Bytes solicitation(const Peer6& from, const Tins::IPv6Address& source,
                          const Tins::IPv6Address& target, uint8_t hop_limit = 255,
                          std::optional<Tins::IPv6Address> unicast = {}) {
  Tins::ICMPv6 ns(Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  ns.target_addr(target);
  if (source != Tins::IPv6Address()) ns.source_link_layer_addr(from.mac);
  Tins::IPv6 ip(unicast.value_or(solicited_node(target)), source);
  ip.hop_limit(hop_limit);
  return ipv6_frame(unicast ? kOurMac : multicast_mac(solicited_node(target)), from.mac, ip,
                    std::move(ns));
}
// A neighbour advertisement for `target` at `target_mac` from the peer, to `destination`.
inline Bytes advertisement(const Peer6& from, const Tins::IPv6Address& target,
                           const Tins::HWAddress<6>& target_mac, bool solicited, bool override,
                           const Tins::IPv6Address& destination = kOurGlobal) {
  Tins::ICMPv6 na(Tins::ICMPv6::NEIGHBOUR_ADVERT);
  na.target_addr(target);
  na.solicited(solicited);
  na.override(override);
  na.target_link_layer_addr(target_mac);
  Tins::IPv6 ip(destination, from.ip);
  ip.hop_limit(255);
  const bool multicast = destination.is_multicast();
  return ipv6_frame(multicast ? multicast_mac(destination) : kOurMac, from.mac, ip, std::move(na));
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    current_family = IpFamily::kIpv4;
    restart(EngineConfig{});
  }
  // Runs the test in `family` from here on: a fresh engine, peers speaking that family.
  void use_family(IpFamily family) {
    current_family = family;
    restart(EngineConfig{});
  }

  // A fresh engine with `config`, the clock back at kStart, nothing recorded.
  // In an IPv6 test, the engine also has our global address, 2001:db8::2/64, DAD off.
  void restart(EngineConfig config) {
    if (current_family == IpFamily::kIpv6 && config.ipv6_addresses.empty()) {
      config.ipv6_addresses = {*Ipv6Subnet::parse(kOurGlobal.to_string() + "/64")};
      config.ipv6_dad_transmits = 0;
    }
    engine_.reset();
    sink_.frames.clear();
    arp_responders_.clear();
    events_.clear();
    now_ = kStart;
    engine_ = std::make_unique<Engine>(config, sink_, tcp::KeySource::seeded(kSeed), now_);
    engine_->set_event_handler([this](const Event& e) { events_.push_back(e); });
    // The engine starts duplicate address detection for its IPv6 addresses as it first advances
    // (as its loop does at once): those probes are kept apart, for the tests that look at them.
    engine_->advance(now_);
    start_frames_ = std::exchange(sink_.frames, {});
    mark();
  }

  Engine& engine() { return *engine_; }
  const Stats& stats() const { return engine_->stats(); }
  uint64_t dropped(DropReason reason) const { return stats().dropped(reason); }

  // ---- The clock ----

  Time now() const { return now_; }
  void advance_to(Time t) {
    now_ = t;
    engine_->advance(now_);
  }
  void advance_by(Duration d) { advance_to(now_ + d); }
  // Moves the clock to just before `deadline` in steps, 1 ms apart over the last 10 ms, and
  // fails if the engine sends anything on the way.
  void advance_silently_to_just_before(Time deadline) {
    while (now_ < deadline - milliseconds(1)) {
      Duration left = deadline - milliseconds(1) - now_;
      advance_by(left > milliseconds(10) ? std::min<Duration>(left - milliseconds(10), seconds(1))
                                         : milliseconds(1));
      if (!sent().empty()) {
        ADD_FAILURE() << sink_.frames.size() << " frame(s) sent at +" << ms_between(kStart, now_)
                      << " ms, before the deadline +" << ms_between(kStart, deadline) << " ms";
        sink_.frames.clear();
        return;
      }
    }
  }
  // Expects exactly one segment at `deadline` and none in the millisecond steps before it.
  SentSegment expect_segment_at(Time deadline) {
    advance_silently_to_just_before(deadline);
    advance_to(deadline);
    return take_segment();
  }

  // ---- Frames in ----

  void deliver(const Bytes& frame, RxChecksum checksum = RxChecksum::kUnverified) {
    engine_->receive_frame(frame, now_, checksum);
  }

  // An Ethernet/IPv4/TCP frame from `peer` to `local_port` on this stack.
  static Bytes tcp_frame(const Peer& peer, uint16_t local_port, const SegmentSpec& s) {
    Tins::TCP tcp(local_port, peer.port);
    tcp.seq(s.seq);
    tcp.ack_seq(s.ack);
    tcp.flags(s.flags);
    tcp.window(s.window);
    // Linux's layout: MSS, SACK-permitted, timestamps, NOP, window scale.
    if (s.mss) tcp.mss(*s.mss);
    if (s.sack_permitted) tcp.sack_permitted();
    if (s.timestamp) tcp.timestamp(s.timestamp->value, s.timestamp->echo);
    if (!s.sack.empty()) {
      Tins::TCP::sack_type edges;
      for (auto [left, right] : s.sack) {
        edges.push_back(left);
        edges.push_back(right);
      }
      tcp.sack(edges);
    }
    if (s.window_scale) {
      tcp.add_option(Tins::TCP::option(Tins::TCP::NOP));
      tcp.winscale(*s.window_scale);
    }
    Tins::EthernetII frame = Tins::EthernetII(kOurMac, peer.mac);
    if (current_family == IpFamily::kIpv4) {
      frame /= Tins::IP(kOurIp, peer.ip);
    } else {
      frame /= Tins::IPv6(kOurGlobal, peer.ip6());
    }
    frame /= tcp;
    if (!s.payload.empty()) frame /= Tins::RawPDU(s.payload);
    return frame.serialize();
  }
  void send(const Peer& peer, uint16_t local_port, const SegmentSpec& s) {
    deliver(tcp_frame(peer, local_port, s));
  }

  static Bytes arp_frame(uint16_t opcode, const Tins::HWAddress<6>& eth_destination,
                         const Tins::HWAddress<6>& sender_mac, const Tins::IPv4Address& sender_ip,
                         const Tins::HWAddress<6>& target_mac, const Tins::IPv4Address& target_ip) {
    Tins::ARP arp(target_ip, sender_ip, target_mac, sender_mac);
    arp.opcode(static_cast<Tins::ARP::Flags>(opcode));
    Tins::EthernetII frame = Tins::EthernetII(eth_destination, sender_mac) / arp;
    return frame.serialize();
  }
  // The peer's ARP reply addressed to us: it answers our who-has (an unsolicited one teaches
  // the engine nothing, as in Linux). Nothing is sent back.
  void learn(const Peer& peer) {
    deliver(arp_frame(Tins::ARP::REPLY, kOurMac, peer.mac, peer.ip, kOurMac, kOurIp));
  }
  // The peer asks who-has for our address, which makes the engine create the peer's entry (as
  // Linux's arp_process does); the engine's answer is taken away.
  // Over IPv6, its neighbour solicitation for our address does the same (RFC 4861 §7.2.3).
  void introduce(const Peer& peer) {
    size_t before = sink_.frames.size();
    if (current_family == IpFamily::kIpv4) {
      deliver(arp_frame(Tins::ARP::REQUEST, kBroadcastMac, peer.mac, peer.ip, Tins::HWAddress<6>(),
                        kOurIp));
    } else {
      deliver(solicitation({peer.ip6(), peer.mac}, peer.ip6(), kOurGlobal));
    }
    sink_.frames.resize(before);
  }
  // Puts the peer on the link: the engine learns its MAC now, and from then on the peer
  // answers every who-has for its address, as a live host does. Tests that outlive
  // arp_entry_lifetime then see the TCP segments, the ARP exchange being taken care of.
  void attach(const Peer& peer) {
    introduce(peer);
    arp_responders_.push_back(peer);
  }

  // ---- Frames out ----

  // Answers, in place of the attached peers, the who-has requests (or neighbour solicitations)
  // among the frames sent; the replies may release queued frames, which are then in the sink in
  // their turn.
  void answer_arp_requests() {
    for (size_t i = 0; i < sink_.frames.size();) {
      auto target = resolved_address(sink_.frames[i]);
      auto responder =
          std::find_if(arp_responders_.begin(), arp_responders_.end(),
                       [&](const Peer& p) { return target && p.ip_text() == *target; });
      if (responder == arp_responders_.end()) {
        ++i;
        continue;
      }
      sink_.frames.erase(sink_.frames.begin() + static_cast<ptrdiff_t>(i));
      if (current_family == IpFamily::kIpv4) {
        learn(*responder);
      } else {
        deliver(advertisement({responder->ip6(), responder->mac}, responder->ip6(), responder->mac,
                              true, true));
      }
    }
  }
  // The address a who-has or a neighbour solicitation asks for, if `frame` is one.
  static std::optional<std::string> resolved_address(const Bytes& frame) {
    if (auto arp = dissect_arp(frame); arp && arp->opcode == Tins::ARP::REQUEST) {
      return arp->target_ip;
    }
    Tins::EthernetII eth(frame.data(), static_cast<uint32_t>(frame.size()));
    const auto* icmp = eth.find_pdu<Tins::ICMPv6>();
    if (icmp && icmp->type() == Tins::ICMPv6::NEIGHBOUR_SOLICIT) {
      return icmp->target_addr().to_string();
    }
    return std::nullopt;
  }

  // What the engine sent and the attached peers did not answer already.
  const std::vector<Bytes>& sent() {
    answer_arp_requests();
    return sink_.frames;
  }
  std::vector<Bytes> take_frames() {
    answer_arp_requests();
    return std::exchange(sink_.frames, {});
  }
  void expect_nothing_sent() {
    EXPECT_TRUE(sent().empty()) << sink_.frames.size() << " frame(s) sent, expected none";
    sink_.frames.clear();
  }
  std::vector<SentSegment> take_segments() {
    std::vector<SentSegment> out;
    for (const Bytes& frame : take_frames()) {
      auto s = dissect_tcp(frame);
      if (!s) {
        ADD_FAILURE() << "the engine sent a frame that is not TCP/IPv4 (" << frame.size()
                      << " bytes)";
        continue;
      }
      EXPECT_TRUE(s->checksums_ok) << ::testing::PrintToString(*s);
      out.push_back(*s);
    }
    return out;
  }
  // Exactly one TCP segment must have been sent; returns it (an empty one on failure, which
  // then fails every field expectation).
  SentSegment take_segment() { return only(take_segments()); }
  // The one segment of `segments` (an empty one, after a failure, if there are more or none).
  static SentSegment only(const std::vector<SentSegment>& segments) {
    if (segments.size() != 1) {
      std::string sent;
      for (const auto& s : segments) sent += "\n  " + ::testing::PrintToString(s);
      ADD_FAILURE() << segments.size() << " segments sent, expected one:" << sent;
      return {};
    }
    return segments.front();
  }
  SentArp take_arp() {
    auto frames = take_frames();
    if (frames.size() != 1) {
      ADD_FAILURE() << frames.size() << " frames sent, expected one ARP packet";
      return {};
    }
    auto arp = dissect_arp(frames.front());
    if (!arp) {
      ADD_FAILURE() << "the frame sent is not ARP";
      return {};
    }
    return *arp;
  }

  // Field-by-field checks of a segment's identity and control fields.
  static void expect_segment(const SentSegment& s, uint8_t flags, uint32_t seq, uint32_t ack) {
    EXPECT_EQ(flags_string(s.flags), flags_string(flags)) << ::testing::PrintToString(s);
    EXPECT_EQ(s.seq, seq) << ::testing::PrintToString(s);
    EXPECT_EQ(s.ack, ack) << ::testing::PrintToString(s);
  }
  // A reset from no state: RST <SEQ=SEG.ACK> or RST|ACK <SEQ=0><ACK=SEG.SEQ+SEG.LEN>, window 0,
  // no options, from `local_port` to the peer.
  static void expect_reset(const SentSegment& s, const Peer& peer, uint16_t local_port,
                           uint8_t flags, uint32_t seq, uint32_t ack) {
    expect_segment(s, flags, seq, ack);
    EXPECT_EQ(s.window, 0);
    EXPECT_TRUE(s.option_kinds.empty());
    EXPECT_EQ(s.source_port, local_port);
    EXPECT_EQ(s.destination_port, peer.port);
    EXPECT_EQ(s.ip_destination, peer.ip_text());
  }

  // ---- Endpoints ----

  // The wildcard of the test's family: 0.0.0.0, or :: (both families: IPv4 finds it too).
  static IpAddress any_address() {
    return current_family == IpFamily::kIpv4 ? IpAddress(Ipv4Address{}) : IpAddress(Ipv6Address{});
  }
  EndpointId listen(uint16_t port, uint32_t backlog, std::optional<uint32_t> syn_backlog = {}) {
    auto id = engine_->create_endpoint();
    EXPECT_TRUE(id.is_ok()) << id.status().message;
    EXPECT_TRUE(engine_->bind(*id, any_address(), port).is_ok());
    EXPECT_TRUE(engine_->listen(*id, backlog, syn_backlog).is_ok());
    return *id;
  }
  EndpointInfo info(EndpointId id) const {
    auto r = engine_->query(id);
    if (!r.is_ok()) {
      ADD_FAILURE() << "query(" << id << "): " << r.status().message;
      return {};
    }
    return *r;
  }
  TcpState state_of(EndpointId id) const { return info(id).state; }
  ListenerInfo listener_info(EndpointId id) const {
    return info(id).listener.value_or(ListenerInfo{});
  }
  ConnectionInfo connection_info(EndpointId id) const {
    return info(id).connection.value_or(ConnectionInfo{});
  }
  Bytes read_all(EndpointId id) {
    Bytes out(1 << 20);
    auto n = engine_->read(id, out);
    EXPECT_TRUE(n.is_ok()) << n.status().message;
    out.resize(n.is_ok() ? *n : 0);
    return out;
  }

  // ---- Handshakes ----

  // The peer's SYN to `local_port`; returns the engine's answer (one segment expected).
  SentSegment syn(const Peer& peer, uint16_t local_port, const SegmentSpec& spec) {
    send(peer, local_port, spec);
    return take_segment();
  }
  // The peer's bare final ACK for the SYN-ACK `synack`.
  SegmentSpec final_ack(const SentSegment& synack) const {
    SegmentSpec ack{.flags = kAck, .seq = synack.ack, .ack = synack.seq + 1, .window = 502};
    if (synack.timestamp) ack.timestamp = Timestamp{6000, synack.timestamp->value};
    return ack;
  }
  // A full passive open from `peer` (Linux-like SYN with sequence `irs`) and accept(); the
  // listener must have room. Returns the accepted connection and the SYN-ACK.
  // `rtt`: how long after our SYN-ACK the peer's final ACK comes (the first RTT sample).
  std::pair<EndpointId, SentSegment> open_passive(EndpointId listener, uint16_t port,
                                                  const Peer& peer, uint32_t irs = 1000,
                                                  Duration rtt = {}) {
    SentSegment synack = syn(peer, port, linux_syn(irs));
    if (rtt > Duration::zero()) advance_by(rtt);
    send(peer, port, final_ack(synack));
    expect_nothing_sent();
    auto id = engine_->accept(listener);
    EXPECT_TRUE(id.is_ok()) << id.status().message;
    return {id.is_ok() ? *id : 0, synack};
  }

  // Starts connect() to `peer`; returns the endpoint and the SYN it sent.
  std::pair<EndpointId, SentSegment> start_connect(const Peer& peer) {
    auto id = engine_->create_endpoint();
    EXPECT_TRUE(id.is_ok());
    Status s = engine_->connect(*id, peer.address(), peer.port);
    EXPECT_TRUE(s.is_ok()) << s.message;
    return {*id, take_segment()};
  }
  // connect() answered by a Linux-like SYN-ACK with sequence `irs`; returns the endpoint and
  // the SYN we sent. The engine's ACK is consumed.
  std::pair<EndpointId, SentSegment> open_active(const Peer& peer, uint32_t irs = 7000) {
    auto [id, our_syn] = start_connect(peer);
    send(peer, our_syn.source_port, linux_synack(irs, our_syn));
    take_segment();
    return {id, our_syn};
  }

  // ---- Events ----

  size_t count_events(Event::Kind kind, EndpointId endpoint) const {
    size_t n = 0;
    for (const Event& e : events_) n += e.kind == kind && e.endpoint == endpoint;
    return n;
  }
  // The kinds of events for `endpoint`, in order.
  std::vector<Event::Kind> event_kinds(EndpointId endpoint) const {
    std::vector<Event::Kind> kinds;
    for (const Event& e : events_) {
      if (e.endpoint == endpoint) kinds.push_back(e.kind);
    }
    return kinds;
  }
  std::vector<TcpState> state_changes(EndpointId endpoint) const {
    std::vector<TcpState> states;
    for (const Event& e : events_) {
      if (e.endpoint == endpoint && e.kind == Event::Kind::kStateChanged) states.push_back(e.state);
    }
    return states;
  }

  // ---- Counters ----

  // Remembers every counter's value; expect_counters() then checks the changes since.
  void mark() { marked_ = snapshot(stats()); }
  // Every counter must have moved by exactly what `deltas` says, and every other one not at all.
  // The traffic totals (frames, packets, segments) are checked only when listed.
  void expect_counters(const std::map<std::string, uint64_t>& deltas) {
    static const std::vector<std::string> kTraffic = {"frames_received",   "frames_sent",
                                                      "packets_received",  "packets_sent",
                                                      "segments_received", "segments_sent"};
    Counters now = snapshot(stats());
    for (const auto& [name, expected] : deltas) {
      EXPECT_TRUE(now.contains(name)) << "no counter " << name;
    }
    for (const auto& [name, value] : now) {
      auto wanted = deltas.find(name);
      bool traffic = std::find(kTraffic.begin(), kTraffic.end(), name) != kTraffic.end();
      if (wanted == deltas.end() && traffic) continue;
      uint64_t expected = wanted == deltas.end() ? 0 : wanted->second;
      EXPECT_EQ(value - marked_[name], expected) << "counter " << name;
    }
  }

  RecordingSink sink_;
  std::vector<Bytes> start_frames_;  // what the engine sent as it started (DAD probes)
  std::vector<Peer> arp_responders_;
  std::vector<Event> events_;
  Time now_ = kStart;
  std::unique_ptr<Engine> engine_;
  Counters marked_;
};

// A fixture whose tests run once per family: TEST_P, with INSTANTIATE_FOR_BOTH_FAMILIES(suite).
class EngineFamilyTest : public EngineTest, public ::testing::WithParamInterface<IpFamily> {
 protected:
  EngineFamilyTest() { use_family(GetParam()); }
  // Our address in the test's family, as libtins writes it.
  static std::string our_ip_text() {
    return current_family == IpFamily::kIpv4 ? kOurIp.to_string() : kOurGlobal.to_string();
  }
  static size_t ip_header_size() { return current_family == IpFamily::kIpv4 ? 20 : 40; }
  // The MSS we offer: the MTU less 40 or 60 bytes of headers.
  static uint16_t our_mss() { return current_family == IpFamily::kIpv4 ? 1460 : 1440; }
};

inline std::string family_name(const ::testing::TestParamInfo<IpFamily>& info) {
  return info.param == IpFamily::kIpv4 ? "Ipv4" : "Ipv6";
}

#define INSTANTIATE_FOR_BOTH_FAMILIES(suite)                                                     \
  INSTANTIATE_TEST_SUITE_P(Families, suite, ::testing::Values(IpFamily::kIpv4, IpFamily::kIpv6), \
                           family_name)

}  // namespace tapstack::engine_test

// gtest prints the engine's enums through these, found by argument-dependent lookup.
namespace tapstack {
inline std::ostream& operator<<(std::ostream& os, TcpState state) {
  return os << to_string(state);
}
inline std::ostream& operator<<(std::ostream& os, Event::Kind kind) {
  return os << to_string(kind);
}
}  // namespace tapstack
