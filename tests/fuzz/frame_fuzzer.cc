// Feeds arbitrary bytes to the engine as Ethernet frames, to a listener, an active connection
// and an established connection carrying data both ways, with time moving between frames, so
// every parser and state machine path sees hostile input: the handshake, and the data path's
// receive queue, reassembly, SACK scoreboard, recovery, persist and close.
//
// Each input starts from the same engine: a peer (ARP answered) has completed a handshake with
// SACK-permitted and window scaling, and we have queued data for it. The input is split into
// frames; the first byte of each picks how far the clock moves and what the frame is:
//   1 mod 4  unpatched, for the Ethernet, ARP and IPv4 parsers;
//   3 mod 4  an IPv6 packet from a peer on 2001:db8::/64 to one of our addresses or groups:
//            extension headers and upper layer (NDP, ICMPv6, TCP) the fuzzer's, the upper
//            layer's checksum made right;
//   2 mod 4  a segment on the established connection: ports fixed, sequence and
//            acknowledgment numbers (and SACK block edges) near the connection's, so most land
//            in the window and the flight; flags, options and payload the fuzzer's;
//   0 mod 4  a segment from a peer in 198.18.0.0/24 to any port, for the listener and demux.
// After each frame the user side reads, and sometimes writes more, shuts down or closes.
//
// Seeds in tests/fuzz/corpus/frame_fuzzer (made by tests/fuzz/make_seeds.py): a loss repaired by
// SACK-based recovery, and out-of-order data reassembled.
// Short run (the test command does this, on a copy of the seeds): frame_fuzzer
// -max_total_time=30 corpus_dir/. Long run: -max_total_time=3600 -jobs=2 corpus_dir/
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stack/engine.h"
#include "stack/header/checksum.h"
#include "stack/header/ethernet.h"
#include "stack/header/icmpv6.h"
#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp.h"

namespace {

using namespace tapstack;
using namespace tapstack::header;

constexpr size_t kIp = EthernetView::kSize;
constexpr uint16_t kListenPort = 80;
constexpr uint16_t kPeerPort = 40000;
constexpr uint8_t kPeerMac[6] = {0x02, 0, 0, 0, 0, 0x01};
const Ipv4Address kPeer{0xc6120001u};  // 198.18.0.1
constexpr uint32_t kIrs = 5000;

struct Recorder : FrameSink {
  bool send_frame(std::span<const uint8_t> frame, const FrameOffload&) override {
    frames.emplace_back(frame.begin(), frame.end());
    return true;
  }
  std::vector<std::vector<uint8_t>> frames;
};

// Sets the IPv4 and TCP headers' fields a frame needs to reach TCP from `src` (checksums last).
void finish_tcp(std::vector<uint8_t>& out, const EngineConfig& config, Ipv4Address src) {
  std::copy(config.mac.bytes.begin(), config.mac.bytes.end(), out.begin());
  std::copy(std::begin(kPeerMac), std::end(kPeerMac), out.begin() + 6);
  store16(&out[12], kEtherTypeIpv4);
  uint8_t* ip = &out[kIp];
  auto total = static_cast<uint16_t>(std::min<size_t>(out.size() - kIp, 0xffff));
  ip[0] = 0x45;
  store16(ip + 2, total);
  store16(ip + 6, 0);  // not a fragment
  ip[8] = 64;
  ip[9] = kProtocolTcp;
  src.write(ip + 12);
  config.address.address.write(ip + 16);
  store16(ip + 10, 0);
  store16(ip + 10, checksum_finish(checksum_add(0, {ip, 20})));
  uint8_t* tcp = ip + 20;
  size_t tcp_length = total - 20u;
  tcp[12] = static_cast<uint8_t>(std::min<size_t>(tcp[12] >> 4, tcp_length / 4) << 4);
  store16(tcp + 16, 0);
  uint64_t sum = pseudo_header_sum(src, config.address.address, kProtocolTcp,
                                   static_cast<uint16_t>(tcp_length));
  store16(tcp + 16, checksum_finish(checksum_add(sum, {tcp, tcp_length})));
}

// A segment from the peer: `options` raw, then `payload`.
std::vector<uint8_t> peer_segment(const EngineConfig& config, uint32_t seq, uint32_t ack,
                                  uint8_t flags, std::span<const uint8_t> options) {
  std::vector<uint8_t> out(kIp + 20 + 20 + options.size());
  uint8_t* tcp = &out[kIp + 20];
  store16(tcp, kPeerPort);
  store16(tcp + 2, kListenPort);
  store32(tcp + 4, seq);
  store32(tcp + 8, ack);
  tcp[12] = static_cast<uint8_t>((5 + options.size() / 4) << 4);
  tcp[13] = flags;
  store16(tcp + 14, 0xffff);
  std::copy(options.begin(), options.end(), tcp + 20);
  finish_tcp(out, config, kPeer);
  return out;
}

std::vector<uint8_t> arp_reply(const EngineConfig& config) {
  std::vector<uint8_t> out(kIp + 28);
  std::copy(config.mac.bytes.begin(), config.mac.bytes.end(), out.begin());
  std::copy(std::begin(kPeerMac), std::end(kPeerMac), out.begin() + 6);
  store16(&out[12], kEtherTypeArp);
  uint8_t* arp = &out[kIp];
  store16(arp, 1);  // Ethernet
  store16(arp + 2, kEtherTypeIpv4);
  arp[4] = 6;
  arp[5] = 4;
  store16(arp + 6, 2);  // reply
  std::copy(std::begin(kPeerMac), std::end(kPeerMac), arp + 8);
  kPeer.write(arp + 14);
  std::copy(config.mac.bytes.begin(), config.mac.bytes.end(), arp + 18);
  config.address.address.write(arp + 24);
  return out;
}

// Our SYN-ACK's sequence number, if the engine sent one.
std::optional<uint32_t> synack_iss(const Recorder& sink) {
  for (const auto& f : sink.frames) {
    if (f.size() < kIp + 40 || load16(&f[12]) != kEtherTypeIpv4 || f[kIp + 9] != kProtocolTcp) {
      continue;
    }
    const uint8_t* tcp = &f[kIp + (f[kIp] & 0x0f) * 4];
    if ((tcp[13] & 0x12) == 0x12) return load32(tcp + 4);
  }
  return std::nullopt;
}

// A fuzzed frame made into a segment on the established connection: the fuzzer's bytes 1-4
// place the sequence and acknowledgment numbers near the connection's start.
std::vector<uint8_t> on_connection(std::span<const uint8_t> frame, const EngineConfig& config,
                                   uint32_t iss) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  if (out.size() < kIp + 40) out.resize(kIp + 40);
  uint8_t* tcp = &out[kIp + 20];
  // Offsets from -1 KiB: the receive window is 4 KiB and 6000 bytes of ours are queued.
  const uint32_t seq_offset = load16(&out[1]) % 8192u - 1024u;
  const uint32_t ack_offset = load16(&out[3]) % 8192u - 1024u;
  store16(tcp, kPeerPort);
  store16(tcp + 2, kListenPort);
  store32(tcp + 4, kIrs + 1 + seq_offset);
  store32(tcp + 8, iss + 1 + ack_offset);
  // SACK block edges are read as offsets into our data, so that blocks land in the flight.
  const size_t options_end = std::min<size_t>(out.size(), kIp + 20 + (tcp[12] >> 4) * 4u);
  for (size_t i = kIp + 40; i < options_end && out[i] != 0;) {
    if (out[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= options_end || out[i + 1] < 2) break;
    const size_t end = std::min<size_t>(i + out[i + 1], options_end);
    if (out[i] == 5) {
      for (size_t edge = i + 2; edge + 4 <= end; edge += 4) {
        store32(&out[edge], iss + 1 + load32(&out[edge]) % 8192u - 1024u);
      }
    }
    i = end;
  }
  finish_tcp(out, config, kPeer);
  return out;
}

// Random bytes almost never carry our MAC, our address and two valid checksums, so most
// inputs are patched to get that far; the TCP header, options and payload stay the fuzzer's.
std::vector<uint8_t> from_any_peer(std::span<const uint8_t> frame, const EngineConfig& config) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  if (out.size() < kIp + 20 + 20) return out;
  finish_tcp(out, config, Ipv4Address{0xc6120000u | out[kIp + 15]});  // 198.18.0.0/24
  return out;
}

// An IPv6 packet to us: the fuzzer's byte 5 picks the destination (our global or link-local
// address, our solicited-node group, all-nodes), the source is 2001:db8::xx, the hop limit is
// 255 (as NDP wants) half the time; the rest of the packet is the fuzzer's, but for the TCP or
// ICMPv6 checksum, made right when the extension header walk reaches one.
std::vector<uint8_t> from_ipv6_peer(std::span<const uint8_t> frame, const EngineConfig& config) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  if (out.size() < kIp + Ipv6View::kHeaderSize) out.resize(kIp + Ipv6View::kHeaderSize);
  const Ipv6Address ours = config.ipv6_addresses.front().address;
  Ipv6Address destination = ours;
  switch (out[5] & 3) {
    case 1:
      destination = config.link_local();
      break;
    case 2:
      destination = ours.solicited_node();
      break;
    case 3:
      destination = *Ipv6Address::parse("ff02::1");
      break;
    default:
      break;
  }
  Ipv6Address source = ours;
  source.bytes[15] = out[kIp + 23];
  write_ethernet(out.data(), destination.is_multicast() ? destination.multicast_mac() : config.mac,
                 MacAddress::from(kPeerMac), kEtherTypeIpv6);
  uint8_t* ip = &out[kIp];
  ip[0] = static_cast<uint8_t>(0x60 | (ip[0] & 0x0f));
  const size_t payload = std::min<size_t>(out.size() - kIp - Ipv6View::kHeaderSize, 0xffff);
  store16(ip + 4, static_cast<uint16_t>(payload));
  if (ip[7] & 1) ip[7] = 255;
  source.write(ip + 8);
  destination.write(ip + 24);
  auto view = Ipv6View::parse(std::span<const uint8_t>(out).subspan(kIp));
  if (!view) return out;
  const Ipv6Walk walk = view->find_upper_layer();
  const auto* upper = std::get_if<Ipv6UpperLayer>(&walk);
  if (!upper) return out;
  const size_t field = upper->protocol == kProtocolTcp      ? TcpView::kChecksumOffset
                       : upper->protocol == kProtocolIcmpv6 ? Icmpv6View::kChecksumOffset
                                                            : 0;
  if (!field || upper->payload.size() < field + 2) return out;
  uint8_t* layer = ip + upper->offset;
  store16(layer + field, 0);
  const uint64_t sum = pseudo_header_sum(source, destination, upper->protocol,
                                         static_cast<uint32_t>(upper->payload.size()));
  store16(layer + field, checksum_finish(checksum_add(sum, {layer, upper->payload.size()})));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Recorder sink;
  sink.frames.clear();
  Time now = seconds(100);
  EngineConfig config;
  config.receive_buffer = 4096;
  config.send_buffer = 8192;
  config.ipv6_addresses = {*Ipv6Subnet::parse("2001:db8::2/64")};
  config.ipv6_dad_transmits = 0;
  Engine engine(config, sink, tcp::KeySource::seeded(1), now);
  EndpointId listener = *engine.create_endpoint();
  engine.bind(listener, {}, kListenPort);
  engine.listen(listener, 2);
  EndpointId client = *engine.create_endpoint();
  engine.connect(client, *Ipv4Address::parse("198.18.0.2"), 8080);

  // The established connection: SYN with MSS 536, SACK-permitted and window scale 2; the ARP
  // reply lets the SYN-ACK out; the final ACK completes it.
  const uint8_t syn_options[] = {2, 4, 0x02, 0x18, 4, 2, 1, 3, 3, 2};
  uint8_t padded[12] = {};
  std::copy(std::begin(syn_options), std::end(syn_options), padded);
  engine.receive_frame(peer_segment(config, kIrs, 0, 0x02, padded), now);
  engine.receive_frame(arp_reply(config), now);
  const std::optional<uint32_t> iss = synack_iss(sink);
  sink.frames.clear();
  if (!iss) return 0;
  engine.receive_frame(peer_segment(config, kIrs + 1, *iss + 1, 0x10, {}), now);
  std::optional<EndpointId> connection;
  if (auto accepted = engine.accept(listener); accepted.is_ok()) connection = *accepted;
  std::vector<uint8_t> outgoing(6000, 0xab);
  if (connection) (void)engine.write(*connection, outgoing);

  // Inputs are split into frames at each 0xFF 0x00 0xFF 0x00 marker.
  std::vector<uint8_t> buffer(2048);
  std::span<const uint8_t> rest(data, size);
  while (!rest.empty()) {
    size_t cut = rest.size();
    for (size_t i = 0; i + 4 <= rest.size(); ++i) {
      if (rest[i] == 0xff && rest[i + 1] == 0 && rest[i + 2] == 0xff && rest[i + 3] == 0) {
        cut = i;
        break;
      }
    }
    std::span<const uint8_t> piece = rest.first(cut);
    rest = rest.subspan(std::min(rest.size(), cut + 4));
    if (piece.empty()) continue;
    const uint8_t pick = piece[0];
    std::vector<uint8_t> frame;
    switch (pick & 3) {
      case 0:
        frame = from_any_peer(piece, config);
        break;
      case 1:
        frame.assign(piece.begin(), piece.end());
        break;
      case 2:
        frame = on_connection(piece, config, *iss);
        break;
      default:
        frame = from_ipv6_peer(piece, config);
        break;
    }
    now += milliseconds(pick) * 40;
    engine.receive_frame(frame, now);
    engine.advance(now);
    sink.frames.clear();
    if (auto accepted = engine.accept(listener); accepted.is_ok()) {
      engine.close(*accepted, frame.size() % 2);
    }
    if (!connection || piece.size() < 3) continue;
    // The user side, steered by the frame's second and third bytes.
    (void)engine.read(*connection, std::span(buffer).first(piece[1] % buffer.size()));
    switch (piece[1] >> 5) {
      case 1:
        (void)engine.write(*connection, std::span(outgoing).first(piece[2] * 16u));
        break;
      case 2:
        (void)engine.shutdown(*connection);
        break;
      case 3:
        if (engine.close(*connection, piece[2] & 1).is_ok()) connection.reset();
        break;
      default:
        break;
    }
  }
  engine.advance(now + seconds(1000));
  return 0;
}
