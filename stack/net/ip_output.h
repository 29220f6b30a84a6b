// The network layer as the transport layer sees it, either family: a packet handed up after the
// IP checks, and a finished packet handed down.
#pragma once

#include <cstdint>
#include <span>

#include "stack/frame_sink.h"
#include "stack/header/ip_address.h"
#include "stack/status.h"

namespace tapstack::net {

// Frames handed over hold an IP packet behind 14 bytes kept free for the Ethernet header,
// which the link layer fills in once it knows the next hop's address.
inline constexpr size_t kLinkHeadroom = 14;

// An upper-layer packet addressed to us, its IP header checked and, for IPv6, its extension
// headers walked: what TCP and ICMP need of the IP layer.
struct IpPacket {
  IpAddress source;
  IpAddress destination;             // one of ours (for IPv6 possibly a multicast group we are in)
  std::span<const uint8_t> payload;  // the upper-layer header and what follows it
};

class IpOutput {
 public:
  virtual ~IpOutput() = default;
  // `frame`: kLinkHeadroom bytes, then a complete IP packet of `destination`'s family.
  // `offload`: what the link is to finish (frame_sink.h); {} for a complete packet.
  virtual void send_ip(const IpAddress& destination, std::span<uint8_t> frame,
                       const FrameOffload& offload) = 0;
  // Our address to send to `destination` from (Linux's source address selection), or why
  // there is none: kInvalidArgument for no unicast peer address (unspecified, multicast,
  // broadcast, loopback, ours), kUnavailable for no route.
  virtual Result<IpAddress> source_for(const IpAddress& destination) const = 0;
  // Whether `address`, one of ours, may be used now: an IPv6 one once DAD passed it, never one
  // found duplicate (RFC 4862 §5.4; Linux refuses to bind them, EADDRNOTAVAIL).
  virtual bool is_usable(const IpAddress& address) const = 0;
};

}  // namespace tapstack::net
