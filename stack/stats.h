// The engine's counters: plain numbers written by the engine loop, read by anyone (the gRPC
// GetStats call, the Prometheus collector) at any time. Each counter has one writer, so an
// increment is a relaxed load and store, never a locked instruction on the packet path.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tapstack {

class Counter {
 public:
  void add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// X(name, help): every counter once, so the exporter and the API list them without repeating.
#define TAPSTACK_COUNTERS(X)                                                                       \
  X(frames_received, "Ethernet frames read from the link")                                         \
  X(frames_sent, "Ethernet frames written to the link")                                            \
  X(link_write_errors, "Frames the link refused to take")                                          \
  X(packets_received, "IP packets (either family) addressed to this stack and accepted")           \
  X(packets_sent, "IP packets (either family) sent")                                               \
  X(arp_requests_received, "ARP requests for this stack's address")                                \
  X(arp_requests_sent, "ARP requests sent to resolve a next hop")                                  \
  X(arp_replies_received, "ARP replies received")                                                  \
  X(arp_replies_sent, "ARP replies sent")                                                          \
  X(arp_entries_created, "Neighbour (ARP) table entries created")                                  \
  X(arp_entries_removed, "Neighbour table entries removed (size = created - removed)")             \
  X(icmp_received, "ICMP messages to this stack with a valid checksum")                            \
  X(icmp_sent, "ICMP messages sent (echo replies)")                                                \
  X(icmpv6_received, "ICMPv6 messages to this stack with a valid checksum, NDP included")          \
  X(icmpv6_sent, "ICMPv6 messages sent: echo replies and errors (NDP counted apart)")              \
  X(ndp_solicitations_received, "Valid neighbour solicitations received (RFC 4861)")               \
  X(ndp_solicitations_sent, "Neighbour solicitations sent: resolution and DAD probes")             \
  X(ndp_advertisements_received, "Valid neighbour advertisements received")                        \
  X(ndp_advertisements_sent, "Neighbour advertisements sent")                                      \
  X(ndp_entries_created, "IPv6 neighbour table entries created")                                   \
  X(ndp_entries_removed, "IPv6 neighbour table entries removed (size = created - removed)")        \
  X(ipv6_duplicate_addresses, "Our IPv6 addresses that DAD found in use by another host")          \
  X(icmp_soft_errors, "ICMP errors for synchronized connections: counted, else ignored")           \
  X(path_mtu_reductions, "Connections whose MSS an ICMPv6 Packet Too Big lowered")                 \
  X(unreachable_aborts, "Connection attempts ended by an ICMP error or by no ARP reply")           \
  X(segments_received, "TCP segments received with a valid checksum")                              \
  X(segments_sent, "TCP segments sent")                                                            \
  X(syns_received, "SYNs that reached a listener")                                                 \
  X(synacks_sent, "SYN-ACKs sent by listeners, cookies and retransmissions included")              \
  X(passive_opens, "Connections established from a listener (RFC 1213 tcpPassiveOpens)")           \
  X(active_opens, "Connection attempts started by connect (tcpActiveOpens)")                       \
  X(attempt_fails, "Connection attempts that failed: refused, reset or timed out")                 \
  X(established_resets, "Established connections reset by the peer")                               \
  X(syn_retransmits, "SYN segments retransmitted by connect")                                      \
  X(synack_retransmits, "SYN-ACK segments retransmitted by listeners")                             \
  X(fin_retransmits, "FIN segments retransmitted")                                                 \
  X(resets_sent, "RST segments sent")                                                              \
  X(resets_received, "RST segments accepted (that changed a connection's state)")                  \
  X(challenge_acks_sent, "Challenge ACKs sent (RFC 5961)")                                         \
  X(listen_overflows, "Times a listener's accept queue was full (Linux ListenOverflows)")          \
  X(listen_drops, "SYNs and final ACKs a listener dropped for any reason (Linux ListenDrops)")     \
  X(syn_queue_full, "SYNs that found a listener's SYN-RCVD table full")                            \
  X(accept_queue_full_syn_drops, "SYNs dropped because the accept queue was full")                 \
  X(accept_queue_full_ack_drops, "Final ACKs dropped because the accept queue was full")           \
  X(handshake_timeouts, "Half-open connections dropped after the last SYN-ACK retransmission")     \
  X(syncookies_sent, "SYN-ACKs sent with a SYN cookie")                                            \
  X(syncookies_validated, "ACKs that carried a valid SYN cookie")                                  \
  X(syncookies_failed, "ACKs checked as SYN cookies and found invalid")                            \
  X(cookie_mode_entered, "Times a listener entered cookie mode (kernel cookie path attached)")     \
  X(cookie_mode_left, "Times a listener left cookie mode: its SYNs fell below its SYN backlog")    \
  X(time_wait_entered, "Connections that entered TIME-WAIT")                                       \
  X(time_wait_overflows, "Connections closed without TIME-WAIT: the TIME-WAIT table was full")     \
  X(time_wait_reused, "TIME-WAIT tuples taken over by a new SYN (RFC 6191)")                       \
  X(oow_acks_limited, "ACKs to unacceptable segments not sent (one per 500 ms per connection)")    \
  X(aborts_on_data, "Connections reset for data that arrived after close (TCPAbortOnData)")        \
  X(keepalive_probes_sent, "Keepalive probes sent")                                                \
  X(keepalive_timeouts, "Connections reset after their keepalive probes went unanswered")          \
  X(half_open_table_full, "SYNs that found the global half-open limit reached")                    \
  X(orphan_overflows, "Graceful closes turned into resets: too many closed connections finishing") \
  X(connections_closed, "Connections that reached CLOSED and were released")                       \
  X(data_segments_sent, "TCP segments sent with data, retransmissions included")                   \
  X(data_bytes_sent, "Bytes of data sent, retransmissions included")                               \
  X(data_bytes_received, "Bytes of data received in order (what reads can take)")                  \
  X(data_segments_retransmitted, "Segments of data (or a FIN) sent again")                         \
  X(retransmit_timeouts, "Retransmission timer expiries (RTO) of connections with data in flight") \
  X(fast_retransmits, "Loss recoveries begun without a timeout (duplicate ACKs, SACK or RACK)")    \
  X(sack_recoveries, "Fast recoveries driven by the peer's SACK blocks (RFC 6675)")                \
  X(rack_lost_segments, "Segments RACK found lost by their send time (RFC 8985)")                  \
  X(rack_reorder_timeouts, "RACK reordering timer expiries: a segment overdue was judged again")   \
  X(tlp_probes_sent, "Tail loss probes sent (RFC 8985 TLP): new data or the last segment again")   \
  X(dsacks_received, "D-SACK blocks received: the peer got a segment twice (RFC 2883)")            \
  X(data_timeouts,                                                                                 \
    "Connections ended because their data went unacknowledged (retries or user timeout)")          \
  X(zero_window_probes_sent, "Probes of a peer's zero window (persist timer)")                     \
  X(delayed_acks_sent, "ACKs sent by the delayed-ACK timer")                                       \
  X(out_of_order_segments, "Segments that arrived ahead of a hole")                                \
  X(aborts_on_close, "Connections reset by close() with unread data (Linux TCPAbortOnClose)")

// X(name, help): why a frame or segment was dropped.
#define TAPSTACK_DROP_REASONS(X)                                                \
  X(frame_too_short, "Shorter than an Ethernet header")                         \
  X(not_our_mac, "Ethernet destination not ours, broadcast or our groups")      \
  X(unsupported_ethertype, "Neither IPv4, IPv6 nor ARP")                        \
  X(bad_arp, "Malformed or non-Ethernet/IPv4 ARP")                              \
  X(arp_not_for_us, "ARP request for another address")                          \
  X(bad_ipv4_header, "IPv4 header malformed or truncated")                      \
  X(bad_ipv4_checksum, "IPv4 header checksum wrong")                            \
  X(not_our_address, "IPv4 destination is not this stack")                      \
  X(ipv4_fragment, "IPv4 fragments are not reassembled")                        \
  X(unsupported_protocol, "IPv4 protocol other than TCP and ICMP")              \
  X(bad_ipv6_header, "IPv6 header truncated or payload length past the end")    \
  X(ipv6_invalid_source, "IPv6 source multicast, mapped, loopback, ours or ::") \
  X(ipv6_not_our_address, "IPv6 destination neither ours nor a group of ours")  \
  X(ipv6_tentative, "IPv6 packet (not NDP) to an address not yet usable")       \
  X(ipv6_fragment, "IPv6 fragments are not reassembled")                        \
  X(ipv6_hop_by_hop_not_first, "IPv6 Hop-by-Hop Options after another header")  \
  X(ipv6_bad_extension, "IPv6 extension header or option malformed")            \
  X(ipv6_unrecognized_option, "IPv6 option that must not be skipped")           \
  X(ipv6_routing_header, "IPv6 Routing header with segments left")              \
  X(ipv6_no_next_header, "IPv6 packet with nothing after its headers (59)")     \
  X(ipv6_chain_too_long, "IPv6 extension header chain past our bounds")         \
  X(ipv6_unsupported_protocol, "IPv6 upper layer other than TCP and ICMPv6")    \
  X(ipv6_multicast_tcp, "TCP segment to an IPv6 multicast address")             \
  X(bad_tcp_header, "TCP header malformed or truncated")                        \
  X(bad_tcp_checksum, "TCP checksum wrong")                                     \
  X(invalid_source, "Martian source: 0/8, 127/8, 224/4, 240/4, bcast, us")      \
  X(syn_queue_full, "SYN dropped: SYN-RCVD table full and SYN cookies off")     \
  X(accept_queue_full, "SYN or final ACK dropped: accept queue full")           \
  X(endpoint_table_full, "Final ACK dropped: endpoint table full")              \
  X(listener_ignored, "Segment a listener ignores (RST, or no SYN/ACK/RST)")    \
  X(out_of_window, "Segment outside the receive window")                        \
  X(paws_rejected, "Segment with an old timestamp (PAWS, RFC 7323)")            \
  X(time_wait_rst, "RST to a TIME-WAIT tuple, ignored (RFC 1337)")              \
  X(syn_sent_ignored, "Segment ignored in SYN-SENT (RFC 9293 3.10.7.3)")        \
  X(no_route, "No route to the destination (off-link and no gateway)")          \
  X(arp_queue_full, "Frame waiting for ARP resolution dropped: queue full")     \
  X(arp_failed, "Frame waiting for ARP resolution dropped: no reply")           \
  X(arp_queue_bytes_full, "ARP-waiting frame dropped: total bytes capped")      \
  X(arp_table_full, "ARP entry refused: table at gc_thresh3, none free")        \
  X(arp_unsolicited, "ARP reply or announcement for an unknown address")        \
  X(arp_locked, "ARP change of a known MAC within locktime of its update")      \
  X(arp_static, "ARP packet trying to change a permanent entry")                \
  X(arp_bad_sender, "ARP from a martian or off-link sender address")            \
  X(bad_icmp, "ICMP truncated or checksum wrong")                               \
  X(icmp_ignored, "ICMP type or code this stack does not act on")               \
  X(icmp_rate_limited, "ICMP/ICMPv6 output suppressed by the shared limit")     \
  X(icmp_unmatched, "ICMP error quoting no connection of ours")                 \
  X(icmp_out_of_window, "ICMP error quoting a seq outside SND.UNA..NXT")        \
  X(bad_icmpv6, "ICMPv6 truncated or checksum wrong")                           \
  X(icmpv6_ignored, "ICMPv6 type or code this stack does not act on")           \
  X(icmpv6_unmatched, "ICMPv6 error quoting no connection of ours")             \
  X(bad_ndp, "NS or NA failing RFC 4861 7.1 (hop limit, code, options)")        \
  X(ndp_not_for_us, "NS for an address that is not ours (or is duplicate)")     \
  X(ndp_address_conflict, "NA from another host for a usable address of ours")  \
  X(ndp_queue_full, "Frame waiting for NDP resolution dropped: queue full")     \
  X(ndp_failed, "Frame waiting for NDP resolution dropped: no answer")          \
  X(ndp_queue_bytes_full, "NDP-waiting frame dropped: total bytes capped")      \
  X(ndp_table_full, "NDP entry refused: table at gc_thresh3, none free")        \
  X(ndp_unsolicited, "NA for an address with no entry")                         \
  X(ndp_locked, "NA changing a known MAC within locktime or without O flag")    \
  X(ndp_static, "NA trying to change a permanent entry")                        \
  X(receive_buffer_full, "Data beyond the receive buffer")                      \
  X(out_of_order_dropped, "Out-of-order data with 32 holes already held")       \
  X(challenge_ack_limited, "Challenge ACK suppressed by the rate limit")        \
  X(admission_denied, "SYN or cookie ACK refused: source in a deny prefix")     \
  X(admission_not_allowed, "SYN or cookie ACK refused: source not allowed")     \
  X(admission_rate_limited, "SYN refused: its source prefix's SYN rate spent")  \
  X(admission_half_open_cap, "SYN refused: source prefix at max_half_open")     \
  X(admission_connection_cap, "SYN or cookie ACK refused: at max_connections")  \
  X(admission_source_table_full, "SYN or cookie ACK refused: source table full")

#define TAPSTACK_DECLARE_COUNTER(name, help) Counter name;
#define TAPSTACK_ENUM_ENTRY(name, help) name,

enum class DropReason : uint8_t { TAPSTACK_DROP_REASONS(TAPSTACK_ENUM_ENTRY) kCount };

struct StatInfo {
  std::string_view name;
  std::string_view help;
};

struct Stats {
  TAPSTACK_COUNTERS(TAPSTACK_DECLARE_COUNTER)
  std::array<Counter, static_cast<size_t>(DropReason::kCount)> drops;

  void drop(DropReason reason) { drops[static_cast<size_t>(reason)].add(); }
  uint64_t dropped(DropReason reason) const { return drops[static_cast<size_t>(reason)].get(); }

  // Adds every counter, drops included, into `sum`: several loops' counters as one stack's.
  void add_into(Stats& sum) const {
#define TAPSTACK_ADD_COUNTER(name, help) sum.name.add(name.get());
    TAPSTACK_COUNTERS(TAPSTACK_ADD_COUNTER)
#undef TAPSTACK_ADD_COUNTER
    for (size_t i = 0; i < drops.size(); ++i) sum.drops[i].add(drops[i].get());
  }

  // Visits every counter as (name, help, value), drops excluded.
  template <class F>
  void for_each_counter(F&& f) const {
#define TAPSTACK_VISIT_COUNTER(name, help) f(#name, help, name.get());
    TAPSTACK_COUNTERS(TAPSTACK_VISIT_COUNTER)
#undef TAPSTACK_VISIT_COUNTER
  }
};

inline constexpr std::array<StatInfo, static_cast<size_t>(DropReason::kCount)> kDropReasons = {{
#define TAPSTACK_DROP_INFO(name, help) {#name, help},
    TAPSTACK_DROP_REASONS(TAPSTACK_DROP_INFO)
#undef TAPSTACK_DROP_INFO
}};

}  // namespace tapstack
