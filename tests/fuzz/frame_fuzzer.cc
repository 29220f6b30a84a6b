// Feeds arbitrary bytes to the engine as Ethernet frames, to a listener and an active
// connection, with time moving between frames, so every parser and state machine path sees
// hostile input. The first byte of each input picks how far the clock moves.
//
// Short run (the test command does this): frame_fuzzer -max_total_time=30
// Long run: frame_fuzzer -max_total_time=3600 -jobs=2 corpus_dir/
#include <cstddef>
#include <cstdint>
#include <span>

#include <algorithm>
#include <vector>

#include "stack/engine.h"
#include "stack/header/checksum.h"
#include "stack/header/ethernet.h"
#include "stack/header/ipv4.h"

namespace {

// Random bytes almost never carry our MAC, our address and two valid checksums, so most
// inputs are patched to get that far; the TCP header, options and payload stay the fuzzer's.
// Frames whose first byte is odd go in unpatched, for the Ethernet/ARP/IPv4 parsers.
std::vector<uint8_t> patch(std::span<const uint8_t> frame, const tapstack::EngineConfig& config) {
  using namespace tapstack::header;
  std::vector<uint8_t> out(frame.begin(), frame.end());
  constexpr size_t kIp = EthernetView::kSize;
  if (out.empty() || (out[0] & 1) || out.size() < kIp + 20 + 20) return out;
  std::copy(config.mac.bytes.begin(), config.mac.bytes.end(), out.begin());
  store16(&out[12], kEtherTypeIpv4);
  uint8_t* ip = &out[kIp];
  auto total = static_cast<uint16_t>(std::min<size_t>(out.size() - kIp, 0xffff));
  ip[0] = 0x45;
  store16(ip + 2, total);
  store16(ip + 6, 0);  // not a fragment
  ip[9] = kProtocolTcp;
  tapstack::Ipv4Address src{0xc6120000u | ip[15]};  // a peer in 198.18.0.0/24
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
  return out;
}

class NullSink : public tapstack::FrameSink {
 public:
  bool send_frame(std::span<const uint8_t>) override { return true; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapstack;
  static NullSink sink;
  Time now = seconds(100);
  EngineConfig config;
  config.receive_buffer = 4096;
  Engine engine(config, sink, tcp::KeySource::seeded(1), now);
  EndpointId listener = *engine.create_endpoint();
  engine.bind(listener, {}, 80);
  engine.listen(listener, 2);
  EndpointId client = *engine.create_endpoint();
  engine.connect(client, *Ipv4Address::parse("198.18.0.1"), 8080);

  // Inputs are split into frames at each 0xFF 0x00 0xFF 0x00 marker.
  std::span<const uint8_t> rest(data, size);
  while (!rest.empty()) {
    size_t cut = rest.size();
    for (size_t i = 0; i + 4 <= rest.size(); ++i) {
      if (rest[i] == 0xff && rest[i + 1] == 0 && rest[i + 2] == 0xff && rest[i + 3] == 0) {
        cut = i;
        break;
      }
    }
    std::vector<uint8_t> frame = patch(rest.first(cut), config);
    if (!frame.empty()) now += milliseconds(frame[0]) * 40;
    engine.receive_frame(frame, now);
    engine.advance(now);
    if (auto accepted = engine.accept(listener); accepted.is_ok())
      engine.close(*accepted, frame.size() % 2);
    rest = rest.subspan(std::min(rest.size(), cut + 4));
  }
  engine.advance(now + seconds(300));
  return 0;
}
