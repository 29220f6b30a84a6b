#include "tests/tools/tcp_frames.h"

#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"
#include "stack/header/tcp.h"
#include "stack/header/tcp_options.h"

namespace tapstack::tools {
namespace {

constexpr uint8_t kTtl = 64;
constexpr uint16_t kSynWindow = 64240;  // Linux: 44 * 1460, the initial receive window
constexpr uint8_t kWindowScale = 7;     // Linux with the default tcp_rmem
constexpr size_t kIp = 14;
constexpr size_t kTcp = kIp + 20;
constexpr size_t kAckField = kTcp + 8;
constexpr size_t kChecksumField = kTcp + 16;
constexpr size_t kTsecrField = kTcp + 20 + 8;  // NOP, NOP, kind, length, TSval

// Writes Ethernet, IPv4 and TCP around options already placed at out + kTcp + 20.
void write_headers(uint8_t* out, const ClientSegment& s, uint8_t flags, uint32_t ack,
                   uint16_t window, size_t options_length) {
  size_t segment_length = 20 + options_length;
  header::write_ethernet(out, s.destination_mac, s.source_mac, header::kEtherTypeIpv4);
  header::write_tcp(out + kTcp, {s.source_port, s.destination_port, s.seq, ack, flags, window},
                    options_length, segment_length, s.source, s.destination);
  header::write_ipv4(out + kIp, s.source, s.destination, header::kProtocolTcp,
                     static_cast<uint16_t>(20 + segment_length), s.ip_id, kTtl);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), one 16-bit word at a time.
uint16_t checksum_update(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = uint32_t{static_cast<uint16_t>(~checksum)} +
                 uint32_t{static_cast<uint16_t>(~old_word)} + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void patch32(uint8_t* frame, size_t offset, uint32_t value) {
  uint16_t checksum = header::load16(frame + kChecksumField);
  uint32_t old = header::load32(frame + offset);
  checksum = checksum_update(checksum, static_cast<uint16_t>(old >> 16),
                             static_cast<uint16_t>(value >> 16));
  checksum = checksum_update(checksum, static_cast<uint16_t>(old), static_cast<uint16_t>(value));
  header::store32(frame + offset, value);
  header::store16(frame + kChecksumField, checksum);
}

}  // namespace

void write_syn_frame(std::span<uint8_t, kSynFrameSize> out, const ClientSegment& s) {
  header::TcpOptions options;
  options.mss = 1460;
  options.sack_permitted = true;
  options.timestamp = header::TcpTimestamp{s.tsval, 0};
  options.window_scale = kWindowScale;
  // write_syn_options lays them out as Linux does: exactly the 20 bytes kSynFrameSize counts.
  size_t n = header::write_syn_options(out.data() + kTcp + 20, options);
  write_headers(out.data(), s, header::tcp_flags::kSyn, 0, kSynWindow, n);
}

void write_ack_frame(std::span<uint8_t, kAckFrameSize> out, const ClientSegment& s) {
  size_t n = header::write_timestamp_option(out.data() + kTcp + 20, {s.tsval, s.tsecr});
  write_headers(out.data(), s, header::tcp_flags::kAck, s.ack, kSynWindow >> kWindowScale, n);
}

void patch_ack_frame(std::span<uint8_t, kAckFrameSize> frame, uint32_t ack, uint32_t tsecr) {
  patch32(frame.data(), kAckField, ack);
  patch32(frame.data(), kTsecrField, tsecr);
}

ClientSegment example_segment(uint16_t source_port, uint32_t seq) {
  ClientSegment s;
  s.source_mac = MacAddress{{2, 0, 0, 0, 0, 1}};
  s.destination_mac = MacAddress{{2, 0, 0, 0, 0, 2}};
  s.source = Ipv4Address{0xc6120001};       // 198.18.0.1
  s.destination = Ipv4Address{0xc6120002};  // 198.18.0.2
  s.source_port = source_port;
  s.destination_port = 8080;
  s.seq = seq;
  return s;
}

}  // namespace tapstack::tools
