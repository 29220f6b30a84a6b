// Building and sending segments. Every segment is written straight into one stack buffer:
// headroom for Ethernet, then IPv4 or IPv6, TCP and options; no allocation, no copy.
#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "stack/header/ipv4.h"
#include "stack/header/ipv6.h"
#include "stack/header/tcp_options.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {
// The largest IP packet we build, either family: a segment the link cuts up (TSO) may be this
// long (an IPv4 packet's limit; IPv6's payload could be 40 bytes longer).
constexpr size_t kMaxPacket = 65535;
constexpr uint8_t kTtl = 64;  // and IPv6's hop limit, as Linux's defaults
// Every segment goes out with DF, and RFC 6864 lets an atomic datagram carry any ID: 0, as
// Linux sends its SYN-ACKs and RSTs (ip_build_and_send_pkt, ip_send_unicast_reply), so that the
// kernel cookie path builds the same bytes with no counter shared with the engine.
constexpr uint16_t kIpId = 0;

size_t ip_header_size(IpFamily family) {
  return family == IpFamily::kIpv4 ? header::Ipv4View::kMinSize : header::Ipv6View::kHeaderSize;
}
}  // namespace

void Tcp::send_segment(const FourTuple& tuple, uint32_t seq, uint32_t ack, uint8_t flags,
                       uint16_t window, std::span<const uint8_t> options,
                       const SegmentPayload& payload) {
  flush_burst();                                   // what transmit() gathered goes first
  uint8_t frame[net::kLinkHeadroom + kMaxPacket];  // not initialized: every byte sent is written
  uint8_t* ip = frame + net::kLinkHeadroom;
  const size_t ip_header = ip_header_size(tuple.family());
  uint8_t* tcp = ip + ip_header;
  size_t header_length = header::TcpView::kMinSize + options.size();
  std::copy(options.begin(), options.end(), tcp + header::TcpView::kMinSize);
  if (payload.length) {
    // Straight from the send queue into the frame: the one copy data makes on its way out.
    payload.from->peek(payload.offset, {tcp + header_length, payload.length});
    stats_.data_bytes_sent.add(payload.length);
  }
  // The segments on the wire: one, or as many as the link cuts this one into.
  const bool cut = payload.segment_size && payload.length > payload.segment_size;
  const size_t segments =
      cut ? (payload.length + payload.segment_size - 1) / payload.segment_size : 1;
  if (payload.length) stats_.data_segments_sent.add(segments);
  size_t segment_length = header_length + payload.length;
  // A link that takes offloads completes the checksum of data (as a NIC does; for a segment it
  // cuts, each piece its own): we leave the pseudo-header's sum, and skip a pass over the
  // payload. Control segments are too small to be worth the header's fields.
  const bool partial = payload.length && config_.segmentation_offload;
  header::write_tcp(tcp, {tuple.local_port, tuple.remote_port, seq, ack, flags, window},
                    options.size(), segment_length, tuple.local, tuple.remote,
                    partial ? header::TcpChecksum::kPartial : header::TcpChecksum::kFull);
  if (tuple.family() == IpFamily::kIpv4) {
    header::write_ipv4(ip, tuple.local.v4(), tuple.remote.v4(), header::kProtocolTcp,
                       static_cast<uint16_t>(ip_header + segment_length), kIpId, kTtl);
  } else {
    // The flow label from a keyed hash of the tuple (RFC 6437 §3): the same for a connection's
    // life, nothing an observer can relate to the tuple.
    header::write_ipv6(ip, tuple.local.v6, tuple.remote.v6, header::kProtocolTcp,
                       static_cast<uint16_t>(segment_length), kTtl,
                       static_cast<uint32_t>(flow_label_hash_(tuple)));
  }
  stats_.segments_sent.add(segments);
  if (flags & kRst) stats_.resets_sent.add();
  FrameOffload offload;
  if (partial) {
    offload = {
        .segment_size = static_cast<uint16_t>(cut ? payload.segment_size : 0),
        .checksum_start = static_cast<uint16_t>(net::kLinkHeadroom + ip_header),
        .checksum_offset = header::TcpView::kChecksumOffset,
        .header_length = static_cast<uint16_t>(net::kLinkHeadroom + ip_header + header_length),
        .ipv6 = tuple.family() == IpFamily::kIpv6};
  }
  output_.send_ip(tuple.remote, {frame, net::kLinkHeadroom + ip_header + segment_length}, offload);
}

void Tcp::send_reset_for(const Segment& seg) {
  // RFC 9293 3.10.7.1: take the sequence number from the ACK if there is one, else
  // acknowledge all of the offending segment.
  if (seg.has(kAck)) {
    send_segment(seg.tuple, seg.ack, 0, kRst, 0, {});
  } else {
    send_segment(seg.tuple, 0, seg.end(), kRst | kAck, 0, {});
  }
}

uint32_t Tcp::ts_value(uint32_t offset) const {
  // A 1 ms timestamp clock (RFC 7323 §5.4 allows 1 ms to 1 s per tick), offset per connection.
  return static_cast<uint32_t>(std::chrono::duration_cast<milliseconds>(now_).count()) + offset;
}

header::TcpOptions Tcp::syn_options_for(IpFamily family, const Negotiated& agreed,
                                        uint32_t ts_offset, uint32_t ts_echo) const {
  header::TcpOptions o;
  o.mss = our_mss(family);
  o.window_scale = agreed.receive_window_scale;
  o.sack_permitted = agreed.sack_permitted;
  if (agreed.timestamps) o.timestamp = header::TcpTimestamp{ts_value(ts_offset), ts_echo};
  return o;
}

void Tcp::send_synack(const HalfOpen& h) {
  uint8_t options[header::kMaxSynOptionsLength];
  size_t n = header::write_syn_options(
      options, syn_options_for(h.tuple.family(), h.options, h.ts_offset, h.ts_recent));
  send_segment(h.tuple, h.iss, h.irs + 1, kSyn | kAck, syn_window(), {options, n});
  stats_.synacks_sent.add();
}

void Tcp::send_half_open_ack(HalfOpen& h) {
  if (!oow_ack_allowed(h.last_oow_ack)) {
    stats_.oow_acks_limited.add();
    return;
  }
  // Linux's tcp_v4_reqsk_send_ack: timestamps once negotiated (RFC 7323 §3.2 wants them on
  // every non-RST segment), and the SYN-ACK's window scaled, since this segment is no SYN.
  send_bare(h.tuple, h.iss + 1, h.irs + 1, kAck,
            static_cast<uint16_t>(syn_window() >> h.options.receive_window_scale.value_or(0)),
            h.options.timestamps, h.ts_offset, h.ts_recent);
}

void Tcp::send_bare(const FourTuple& tuple, uint32_t seq, uint32_t ack, uint8_t flags,
                    uint16_t window, bool timestamps, uint32_t ts_offset, uint32_t ts_echo) {
  uint8_t options[header::kTimestampOptionLength];
  size_t n = 0;
  if (timestamps) n = header::write_timestamp_option(options, {ts_value(ts_offset), ts_echo});
  send_segment(tuple, seq, ack, flags, window, {options, n});
}

void Tcp::send_syn(const Connection& c, bool with_ack) {
  uint8_t options[header::kMaxSynOptionsLength];
  header::TcpOptions o;
  if (with_ack) {
    // Simultaneous open: the SYN-ACK repeats our SYN's options, cut to what the peer offered.
    o = syn_options_for(c.tuple.family(), c.options, c.ts_offset, c.ts_recent);
  } else {
    o.mss = our_mss(c.tuple.family());
    o.window_scale = our_window_scale_;
    o.sack_permitted = true;
    o.timestamp = header::TcpTimestamp{ts_value(c.ts_offset), 0};
  }
  size_t n = header::write_syn_options(options, o);
  send_segment(c.tuple, c.iss, with_ack ? c.rcv_nxt : 0, with_ack ? kSyn | kAck : kSyn,
               syn_window(), {options, n});
}

void Tcp::send_data(Connection& c, uint32_t seq, size_t length, bool fin) {
  if (!gathering_ || length == 0) {
    flush_burst();
    send_data_segment(c, seq, length, fin, 0);
    return;
  }
  // A burst takes full segments, then may end with a short one or the FIN: the link cuts it
  // into what we would have sent one by one.
  const size_t mss = send_mss(c);
  const bool joins = burst_ && burst_->connection == &c && burst_->seq + burst_->length == seq &&
                     burst_->length + length <= max_burst(c);
  if (!joins) flush_burst();
  if (!burst_) burst_ = Burst{&c, seq, 0, false};
  burst_->length += length;
  burst_->fin = fin;
  if (fin || length < mss) flush_burst();
}

void Tcp::flush_burst() {
  if (!burst_) return;
  const Burst b = *std::exchange(burst_, std::nullopt);
  send_data_segment(*b.connection, b.seq, b.length, b.fin, send_mss(*b.connection));
}

size_t Tcp::max_burst(const Connection& c) const {
  // The largest packet, in whole segments.
  const size_t mss = send_mss(c);
  const size_t room = kMaxPacket - ip_header_size(c.tuple.family()) - header::TcpView::kMinSize -
                      (c.options.timestamps ? header::kTimestampOptionLength : 0);
  return room / mss * mss;
}

void Tcp::send_data_segment(Connection& c, uint32_t seq, size_t length, bool fin,
                            size_t segment_size) {
  uint8_t options[header::kTimestampOptionLength];
  size_t n = 0;
  if (c.options.timestamps) {
    n = header::write_timestamp_option(options, {ts_value(c.ts_offset), c.ts_recent});
  }
  uint8_t flags = kAck | (fin ? kFin : 0);
  // PSH on the last segment of what is queued, as Linux marks the end of a write.
  if (length && seq + length == c.write_seq) flags |= kPsh;
  const uint16_t window = advertise_window(c);
  acknowledged_by_us(c);
  send_segment(c.tuple, seq, c.rcv_nxt, flags, window, {options, n},
               {&c.send_queue, static_cast<size_t>(seq - c.snd_una), length, segment_size});
}

void Tcp::send_control(Connection& c, uint8_t flags) {
  const uint16_t window = (flags & kRst) ? 0 : advertise_window(c);
  acknowledged_by_us(c);
  std::optional<header::TcpTimestamp> timestamp;
  if (c.options.timestamps) timestamp = header::TcpTimestamp{ts_value(c.ts_offset), c.ts_recent};
  // SACK blocks (RFC 2018 §4, D-SACK RFC 2883) ride on pure ACKs only; data segments carry the
  // timestamp alone, so that their payload keeps the size the send side chose (README).
  std::array<header::SackBlock, header::kMaxSackBlocks> blocks;
  size_t count = 0;
  if (c.options.sack_permitted && !(flags & kRst)) {
    count = c.reassembly.sack_blocks(
        c.rcv_nxt, std::span(blocks).first(header::max_sack_blocks(c.options.timestamps)));
  }
  uint8_t options[header::kMaxAckOptionsLength];
  const size_t n = header::write_ack_options(options, timestamp, std::span(blocks).first(count));
  send_segment(c.tuple, c.snd_nxt, c.rcv_nxt, flags, window, {options, n});
}

void Tcp::acknowledged_by_us(Connection& c) {
  c.rcv_acked = c.rcv_nxt;
  timers_.cancel(c.delayed_ack);  // this segment carries the ACK
}

void Tcp::send_ack(Connection& c) {
  send_control(c, kAck);
}

bool Tcp::oow_ack_allowed(std::optional<Time>& last_sent) {
  if (last_sent && now_ - *last_sent < config_.challenge_ack_interval) return false;
  last_sent = now_;
  return true;
}

}  // namespace tapstack::tcp
