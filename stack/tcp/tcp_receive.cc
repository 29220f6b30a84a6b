// The receive side of a synchronized connection: data into the receive queue in order,
// out-of-order data held past its end until the hole fills (Assembler, with SACK and D-SACK
// blocks for the ACKs), the peer's FIN, read(), the advertised window with receiver silly-window
// avoidance (RFC 9293 3.8.6.2.2) that never moves its right edge left (RFC 7323 §2.4), and delayed
// ACKs (RFC 1122 4.2.3.2, RFC 5681 §4.2: at least every second full-sized segment, at most 40 ms
// late as Linux, at once for anything out of order or a FIN, and for the first segments as Linux's
// quickack mode does).
#include <algorithm>

#include "stack/tcp/seqnum.h"
#include "stack/tcp/tcp.h"

namespace tapstack::tcp {

using namespace header::tcp_flags;

namespace {
bool receives_data(TcpState s) {
  return s == TcpState::kEstablished || s == TcpState::kFinWait1 || s == TcpState::kFinWait2;
}

// The peer's FIN came (and the connection did not end otherwise): reads end after the data.
bool peer_finished(const Connection& c) {
  switch (c.state) {
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
      return true;
    case TcpState::kClosed:
      return c.ending == Ending::kNone;
    default:
      return false;
  }
}

// Keeps an out-of-order segment's data past the end of the receive queue.
void hold_out_of_order(Connection& c, Stats& stats, uint32_t seq,
                       std::span<const uint8_t> payload) {
  stats.out_of_order_segments.add();
  // Held bytes sit in the receive ring past its end, so the ring's limit bounds them as it
  // bounds the window: what lies beyond is dropped, as in order.
  const size_t offset = seq - c.rcv_nxt;
  const size_t room = c.receive_queue.room();
  const auto data = payload.first(std::min(payload.size(), room > offset ? room - offset : 0));
  if (data.size() < payload.size()) stats.drop(DropReason::receive_buffer_full);
  if (data.empty()) return;
  const auto length = static_cast<uint32_t>(data.size());
  switch (c.reassembly.add(static_cast<uint32_t>(offset), length)) {
    case Assembler::Added::kStored:
      c.receive_queue.write_beyond(offset, data);
      break;
    case Assembler::Added::kDuplicate:
      c.reassembly.note_duplicate(seq, seq + length);
      break;
    case Assembler::Added::kRefused:  // the peer sends it again once the holes fill
      stats.drop(DropReason::out_of_order_dropped);
      break;
  }
}
}  // namespace

void Tcp::process_data_and_fin(Connection& c, const Segment& seg) {
  const bool fin = seg.has(kFin);
  if (seg.payload.empty() && !fin) return;
  if (!receives_data(c.state)) return;  // the peer's FIN came already; RFC 9293 says ignore
  const uint32_t seq = seg.seq + (seg.has(kSyn) ? 1 : 0);
  const uint32_t fin_seq = seq + static_cast<uint32_t>(seg.payload.size());
  if (orphans_.contains(c.id) && seq_gt(fin_seq, c.rcv_nxt)) {
    // New data after close(): nobody will read it, so reset instead of buffering it, as Linux
    // does (tcp_rcv_state_process, TCPAbortOnData).
    stats_.aborts_on_data.add();
    send_control(c, kRst | kAck);
    release(c);
    return;
  }
  if (seq_gt(seq, c.rcv_nxt)) {
    // Out of order: kept, and a duplicate ACK at once (RFC 5681 §4.2) tells the sender, with
    // its SACK blocks, what is missing. A FIN out of order is not taken: the peer sends it
    // again once the data before it is acknowledged (README, Behaviour).
    hold_out_of_order(c, stats_, seq, seg.payload);
    send_ack(c);
    return;
  }
  std::span<const uint8_t> data = seg.payload;
  const size_t old = std::min<size_t>(c.rcv_nxt - seq, data.size());
  if (old > 0) c.reassembly.note_duplicate(seq, seq + static_cast<uint32_t>(old));  // D-SACK
  data = data.subspan(old);
  const bool was_readable = !c.receive_queue.empty();
  const bool fills_hole = !data.empty() && !c.reassembly.empty();
  const size_t pushed = c.receive_queue.push(data);
  if (pushed < data.size()) stats_.drop(DropReason::receive_buffer_full);
  // Held data that the new bytes reach joins them.
  const uint32_t joined = c.reassembly.advance(static_cast<uint32_t>(pushed));
  c.receive_queue.extend(joined);
  const size_t taken = pushed + joined;
  c.rcv_nxt += static_cast<uint32_t>(taken);
  c.bytes_received += taken;
  stats_.data_bytes_received.add(taken);
  bool time_wait = false;
  const bool fin_reached = fin && c.rcv_nxt == fin_seq;
  if (fin_reached) {
    ++c.rcv_nxt;
    switch (c.state) {
      case TcpState::kEstablished:
        set_state(c, TcpState::kCloseWait);
        break;
      case TcpState::kFinWait1:
        if (fin_acknowledged(c)) {
          time_wait = true;
        } else {
          set_state(c, TcpState::kClosing);
        }
        break;
      default:  // FIN-WAIT-2
        time_wait = true;
        break;
    }
  }
  if (!was_readable && (taken > 0 || fin_reached)) {
    emit(Event::Kind::kReadable, c.id, c.listener, c.state);
  }
  // A duplicate (its D-SACK is news), a FIN or a segment that fills a hole (RFC 5681 §4.2) is
  // acknowledged at once, as is every second full-sized segment, and every segment while quick
  // ACKs last.
  if (fin_reached || taken == 0 || old > 0 || fills_hole ||
      c.rcv_nxt - c.rcv_acked >= 2 * send_mss(c)) {
    send_ack(c);
  } else if (c.quick_acks > 0) {
    --c.quick_acks;
    send_ack(c);
  } else if (!c.delayed_ack.armed()) {
    timers_.arm(c.delayed_ack, now_ + config_.delayed_ack);
  }
  // Last: the connection is handed over to a TIME-WAIT record (as Linux's tcp_fin sends its
  // ACK before tcp_time_wait).
  if (time_wait) enter_time_wait(c);
}

void Tcp::delayed_ack_timer(Connection& c) {
  if (c.rcv_acked == c.rcv_nxt) return;  // a segment of ours carried the ACK meanwhile
  stats_.delayed_acks_sent.add();
  send_ack(c);
}

Result<size_t> Tcp::read(EndpointId id, std::span<uint8_t> out) {
  auto found = data_connection(id);
  if (!found.is_ok()) return found.status();
  Connection& c = **found;
  if (c.receive_queue.empty()) {
    if (peer_finished(c)) return size_t{0};  // end of stream
    return error(ErrorCode::kWouldBlock, "no data yet");
  }
  const size_t n = c.receive_queue.peek(0, out);
  c.receive_queue.consume(n);
  // Announce the reopened window when it at least doubled what the peer may still send (Linux's
  // tcp_cleanup_rbuf), so that a sender stopped by a full buffer resumes without waiting for its
  // persist timer, yet reading a few bytes at a time does not send an ACK for each.
  if (receives_data(c.state)) {
    const uint32_t offered = seq_gt(c.rcv_wnd_edge, c.rcv_nxt) ? c.rcv_wnd_edge - c.rcv_nxt : 0;
    const size_t now_free = c.receive_queue.room();
    if (now_free >= 2 * size_t{offered} && now_free - offered >= c.options.mss) send_ack(c);
  }
  return n;
}

uint32_t Tcp::receive_window(const Connection& c) const {
  const uint32_t offered = seq_gt(c.rcv_wnd_edge, c.rcv_nxt) ? c.rcv_wnd_edge - c.rcv_nxt : 0;
  const size_t free = c.receive_queue.room();
  // Receiver SWS avoidance: the right edge moves on only by min(buffer / 2, MSS) or more.
  const size_t step = std::min<size_t>(c.receive_queue.limit() / 2, c.options.mss);
  return free >= offered + step ? static_cast<uint32_t>(free) : offered;
}

uint16_t Tcp::advertise_window(Connection& c) {
  const uint8_t scale = c.options.receive_window_scale.value_or(0);
  const uint32_t window = std::min<uint32_t>(receive_window(c), uint32_t{0xffff} << scale);
  const uint16_t field = static_cast<uint16_t>(window >> scale);
  const uint32_t edge = c.rcv_nxt + (uint32_t{field} << scale);
  if (seq_gt(edge, c.rcv_wnd_edge)) c.rcv_wnd_edge = edge;
  return field;
}

}  // namespace tapstack::tcp
