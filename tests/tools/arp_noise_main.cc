// tapstack_arpnoise: ARP noise for the soak test. Broadcasts ARP who-has requests for one
// address (the engine's) from random senders -- random locally administered MACs and random
// addresses of a prefix inside 198.18.0.0/15, outside an excluded prefix (the link's real hosts,
// whose entries a spoofed request would poison: that is an attack of its own, not noise) -- at a
// bounded rate, through an AF_PACKET socket on the kernel side of the engine's TAP. Like
// tapstack_synflood it runs only inside a network namespace of its own (ip netns exec NS) and
// writes only addresses in 198.18.0.0/15.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "stack/header/arp.h"
#include "stack/header/ethernet.h"
#include "tests/tools/syn_flood.h"
#include "tests/tools/tool_options.h"

namespace {

using namespace tapstack;

constexpr const char* kUsage =
    R"(Usage: tapstack_arpnoise --interface NAME --target-ip ADDRESS [options]

Broadcasts ARP who-has ADDRESS from random senders of --senders (random MACs), outside
--exclude. Run it inside a network namespace of its own (ip netns exec NS).

  --interface NAME      interface to send on (the engine's TAP, kernel side)
  --target-ip ADDRESS   the address asked for (the engine's)
  --senders A.B.C.D/N   sender addresses, inside 198.18.0.0/15 (default 198.18.0.0/15)
  --exclude A.B.C.D/N   senders never taken from here (default 198.18.0.0/24: the link's hosts)
  --rate PPS            requests per second (default 1000)
  --duration SECONDS    stop after this long (default 10)
  --count N             stop after N requests (default 1000000)
  --help                this text
)";

struct Options {
  std::string interface;
  std::optional<Ipv4Address> target;
  Ipv4Subnet senders = tools::kBenchmarkRange;
  Ipv4Subnet exclude{{0xc6120000}, 24};
  uint64_t rate = 1000;
  double duration = 10;
  uint64_t count = 1'000'000;
};

template <class T>
std::optional<T> number(std::string_view text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool apply(Options& o, std::string_view name, std::string_view value) {
  if (name == "--interface") {
    o.interface = value;
    return !value.empty();
  }
  if (name == "--target-ip") {
    o.target = Ipv4Address::parse(value);
    return o.target && tools::kBenchmarkRange.contains(*o.target);
  }
  if (name == "--senders") {
    auto s = Ipv4Subnet::parse(value);
    if (s) o.senders = *s;
    return s && s->prefix >= tools::kBenchmarkRange.prefix &&
           tools::kBenchmarkRange.contains(s->address);
  }
  if (name == "--exclude") {
    auto s = Ipv4Subnet::parse(value);
    if (s) o.exclude = *s;
    return s.has_value();
  }
  if (name == "--duration") {
    auto s = number<uint32_t>(value);
    if (s) o.duration = *s;
    return s.has_value() && *s <= 3600;
  }
  auto n = number<uint64_t>(value);
  if (!n) return false;
  if (name == "--rate") {
    o.rate = *n;
    return *n > 0;
  }
  if (name == "--count") {
    o.count = *n;
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  auto apply_option = [&](std::string_view name, std::string_view value) {
    return apply(o, name, value);
  };
  if (auto stop =
          tapstack::tools::parse_options(argc, argv, "tapstack_arpnoise", kUsage, apply_option)) {
    return *stop;
  }
  if (o.interface.empty() || !o.target) {
    std::fprintf(stderr, "tapstack_arpnoise: --interface and --target-ip are required\n\n%s",
                 kUsage);
    return 2;
  }
  if (Status ns = tools::require_own_network_namespace(); !ns.is_ok()) {
    std::fprintf(stderr, "tapstack_arpnoise: %s\n", ns.message.c_str());
    return 1;
  }
  int ifindex = static_cast<int>(if_nametoindex(o.interface.c_str()));
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
  if (ifindex == 0 || fd < 0) {
    std::fprintf(stderr, "tapstack_arpnoise: %s: %s\n", o.interface.c_str(), strerror(errno));
    return 1;
  }
  sockaddr_ll link{};
  link.sll_family = AF_PACKET;
  link.sll_protocol = htons(ETH_P_ARP);
  link.sll_ifindex = ifindex;

  std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<uint32_t> host(0, ~o.senders.mask());
  uint8_t frame[14 + header::ArpView::kSize];
  uint64_t sent = 0;
  uint64_t refused = 0;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(o.duration));
  while (sent + refused < o.count && std::chrono::steady_clock::now() < deadline) {
    Ipv4Address sender{(o.senders.address.value & o.senders.mask()) | host(random)};
    if (o.exclude.contains(sender) || sender == *o.target) continue;
    MacAddress mac;
    uint64_t bits = random();
    std::memcpy(mac.bytes.data(), &bits, 6);
    mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfc) | 0x02);  // local, unicast
    header::write_ethernet(frame, MacAddress::broadcast(), mac, header::kEtherTypeArp);
    header::write_arp(frame + 14, header::kArpRequest, mac, sender, MacAddress{}, *o.target);
    if (sendto(fd, frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&link), sizeof link) ==
        static_cast<ssize_t>(sizeof frame)) {
      ++sent;
    } else {
      ++refused;
    }
    // Pacing, not synchronisation: the next request may not leave before its time.
    auto due = start + std::chrono::nanoseconds((sent + refused) * 1'000'000'000 / o.rate);
    std::this_thread::sleep_until(std::min(due, deadline));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sent %llu ARP who-has in %.1f s (%.0f/s), %llu refused\n",
              static_cast<unsigned long long>(sent), seconds, static_cast<double>(sent) / seconds,
              static_cast<unsigned long long>(refused));
  close(fd);
  return 0;
}
