#include "tests/bench/passive_open_bench.h"

#include <stdexcept>

#include "stack/header/arp.h"
#include "stack/header/ethernet.h"
#include "stack/header/tcp.h"
#include "stack/random.h"

namespace tapstack::bench {
namespace {

constexpr MacAddress kGatewayMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr Ipv4Address kGateway{0xc6120001};  // 198.18.0.1
constexpr size_t kTcp = 14 + 20;
constexpr uint8_t kTimestampKind = 8;

// Where the TSval sits in a SYN-ACK: the options are walked once, on the first one.
size_t find_tsval(std::span<const uint8_t> frame) {
  auto tcp = header::TcpView::parse(frame.subspan(kTcp));
  if (!tcp) throw std::runtime_error("the engine's SYN-ACK does not parse");
  auto options = tcp->options();
  for (size_t i = 0; i + 1 < options.size();) {
    if (options[i] == 1) {
      ++i;
    } else if (options[i] == kTimestampKind) {
      return kTcp + 20 + i + 2;
    } else {
      i += std::max<size_t>(options[i + 1], 2);
    }
  }
  throw std::runtime_error("the engine's SYN-ACK has no timestamp");
}

}  // namespace

PassiveOpenBench::PassiveOpenBench(tcp::SynCookieMode mode, uint32_t syn_backlog)
    : syn_backlog_(syn_backlog) {
  EngineConfig config;
  config.gateway = kGateway;
  config.tunable.syncookies = mode;
  config.max_endpoints = 2 * kRing;
  engine_ = std::make_unique<Engine>(config, sink_, tcp::KeySource::seeded(42), kNow);

  // The gateway asks for our address: the engine learns its MAC, so no SYN-ACK waits for ARP.
  std::array<uint8_t, header::EthernetView::kSize + header::ArpView::kSize> arp;
  header::write_ethernet(arp.data(), MacAddress::broadcast(), kGatewayMac, header::kEtherTypeArp);
  header::write_arp(arp.data() + header::EthernetView::kSize, header::kArpRequest, kGatewayMac,
                    kGateway, MacAddress{}, config.address.address);
  engine_->receive_frame(arp, kNow);
  listen();

  Random random(7);
  syns_.resize(kRing);
  acks_.resize(kRing);
  for (size_t i = 0; i < kRing; ++i) {
    tools::ClientSegment s;
    s.source_mac = kGatewayMac;
    s.destination_mac = config.mac;
    s.source = {0xc6130000 | static_cast<uint32_t>(i % 250 + 1) << 8 |
                static_cast<uint32_t>(i / 250 + 1)};  // 198.19.x.y, no .0 or .255
    s.destination = config.address.address;
    s.source_port = static_cast<uint16_t>(32768 + i);
    s.destination_port = kListenPort;
    s.seq = static_cast<uint32_t>(random.next());
    s.tsval = static_cast<uint32_t>(random.next());
    s.ip_id = static_cast<uint16_t>(i);
    tools::write_syn_frame(syns_[i], s);
    ++s.seq;
    ++s.tsval;
    ++s.ip_id;
    tools::write_ack_frame(acks_[i], s);
  }
}

void PassiveOpenBench::listen() {
  listener_ = *engine_->create_endpoint();
  if (!engine_->bind(listener_, {}, kListenPort).is_ok() ||
      !engine_->listen(listener_, kRing, syn_backlog_).is_ok()) {
    throw std::runtime_error("cannot listen");
  }
}

void PassiveOpenBench::relisten() {
  engine_->close(listener_, false);
  listen();
}

void PassiveOpenBench::answer(AckFrame& ack) {
  std::span<const uint8_t> synack = sink_.last();
  if (tsval_offset_ == 0) tsval_offset_ = find_tsval(synack);
  tools::patch_ack_frame(ack, header::load32(synack.data() + kTcp + 4) + 1,
                         header::load32(synack.data() + tsval_offset_));
}

}  // namespace tapstack::bench
