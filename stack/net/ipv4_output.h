// The network layer as the transport layer sees it: hand over a finished IPv4 packet.
#pragma once

#include <cstdint>
#include <span>

#include "stack/frame_sink.h"
#include "stack/header/addresses.h"

namespace tapstack::net {

// Frames handed over hold an IPv4 packet behind 14 bytes kept free for the Ethernet header,
// which the link layer fills in once it knows the next hop's address.
inline constexpr size_t kLinkHeadroom = 14;

class Ipv4Output {
 public:
  virtual ~Ipv4Output() = default;
  // `offload`: what the link is to finish (frame_sink.h); {} for a complete packet.
  virtual void send_ipv4(Ipv4Address destination, std::span<uint8_t> frame,
                         const FrameOffload& offload) = 0;
};

}  // namespace tapstack::net
