// tapstack_impair: a lossy link for the tests, since this kernel has no netem. Loads
// impair.bpf.c (loss, duplication and reordering of TCP segments carrying data, at random) and
// attaches it to one hook of a device's clsact qdisc, prints "attached" once it is in place,
// and on SIGINT or SIGTERM (or after --duration) detaches it and prints its counters as one
// line of key=value. Like the other tools it runs only inside a network namespace of its own.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "stack/link/bpf_errors.h"
#include "tests/tools/impair_abi.h"
#include "tests/tools/syn_flood.h"
#include "tests/tools/tool_options.h"

// bpftool's skeleton embeds the object file as one long string literal.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "impair.skel.h"
#pragma GCC diagnostic pop

namespace {

using namespace tapstack;

constexpr const char* kUsage =
    R"(Usage: tapstack_impair (--dev NAME | --ifindex N) --direction ingress|egress [options]

Impairs the IPv4 TCP segments carrying data that pass one hook of the device's clsact qdisc,
each at random: dropped, duplicated, or (ingress only) held back until the next one has passed.
Prints "attached" when in place; on SIGINT/SIGTERM or after --duration, detaches and prints
its counters. Run it inside a network namespace of its own (ip netns exec NS).

  --dev NAME               the device (for the engine's TAP: ingress carries what the engine
                           sends, egress what the kernel sends to it; there a GSO super-packet
                           is impaired whole unless `ip link set NAME gso_max_segs 1`)
  --ifindex N              the device by index
  --direction D            ingress or egress
  --loss-permille N        segments dropped, per mille (0..1000, default 0)
  --dup-permille N         segments duplicated, per mille (default 0)
  --reorder-permille N     segments overtaken by the next one, per mille (ingress only)
  --duration SECONDS       detach after this long at the latest (default 600)
  --help                   this text

On egress it runs after a filter of priority 1 (tapstackd's kernel cookie path passes frames
with TC_ACT_OK, which ends classification): impair egress with --kernel-cookies off.
)";

// Ours on the hook, after the cookie path's (handle 1, priority 1).
constexpr uint32_t kFilterHandle = 0x1a9;
constexpr uint32_t kFilterPriority = 2;

struct Options {
  std::string dev;
  int ifindex = 0;
  std::optional<bool> ingress;
  uint32_t loss = 0;
  uint32_t dup = 0;
  uint32_t reorder = 0;
  uint32_t duration = 600;
};

template <class T>
std::optional<T> number(std::string_view text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool set_permille(uint32_t& out, std::string_view value) {
  auto v = number<uint32_t>(value);
  if (!v || *v > 1000) return false;
  out = *v;
  return true;
}

bool apply(Options& o, std::string_view name, std::string_view value) {
  if (name == "--dev") {
    o.dev = value;
    return !value.empty();
  }
  if (name == "--ifindex") {
    auto v = number<int>(value);
    if (v && *v > 0) o.ifindex = *v;
    return v && *v > 0;
  }
  if (name == "--direction") {
    if (value == "ingress" || value == "egress") o.ingress = value == "ingress";
    return o.ingress.has_value();
  }
  if (name == "--loss-permille") return set_permille(o.loss, value);
  if (name == "--dup-permille") return set_permille(o.dup, value);
  if (name == "--reorder-permille") return set_permille(o.reorder, value);
  if (name == "--duration") {
    auto v = number<uint32_t>(value);
    if (v && *v > 0) o.duration = *v;
    return v && *v > 0;
  }
  return false;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "tapstack_impair: %s\n", message.c_str());
  return 1;
}

// Blocks until SIGINT or SIGTERM, or `seconds` pass.
void wait_for_stop(const sigset_t& stop, uint32_t seconds) {
  timespec limit{static_cast<time_t>(seconds), 0};
  while (sigtimedwait(&stop, nullptr, &limit) < 0 && errno == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  auto apply_option = [&](std::string_view name, std::string_view value) {
    return apply(o, name, value);
  };
  if (auto stop =
          tapstack::tools::parse_options(argc, argv, "tapstack_impair", kUsage, apply_option)) {
    return *stop;
  }
  if (!o.dev.empty()) o.ifindex = static_cast<int>(if_nametoindex(o.dev.c_str()));
  if (o.ifindex == 0 || !o.ingress) {
    std::fprintf(stderr,
                 "tapstack_impair: an existing --dev or --ifindex and --direction are "
                 "required\n\n%s",
                 kUsage);
    return 2;
  }
  if (o.reorder && !*o.ingress) return fail("--reorder-permille works on ingress only");
  if (Status ns = tools::require_own_network_namespace(); !ns.is_ok()) return fail(ns.message);

  // Signals are taken with sigtimedwait, so they must be blocked before anything can arrive.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  impair_bpf* skeleton = impair_bpf::open();
  if (!skeleton) return fail(link::describe_bpf_error(errno, "opening the impairment program"));
  skeleton->rodata->loss_permille = o.loss;
  skeleton->rodata->dup_permille = o.dup;
  skeleton->rodata->reorder_permille = o.reorder;
  skeleton->rodata->ifindex = static_cast<uint32_t>(o.ifindex);
  skeleton->rodata->at_ingress = *o.ingress ? 1 : 0;
  if (int err = impair_bpf::load(skeleton); err) {
    impair_bpf::destroy(skeleton);
    return fail(link::describe_bpf_error(err, "loading the impairment program"));
  }

  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = o.ifindex;
  hook.attach_point = *o.ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kFilterHandle;
  opts.priority = kFilterPriority;
  opts.prog_fd = bpf_program__fd(skeleton->progs.impair);
  int err = bpf_tc_hook_create(&hook);  // the clsact qdisc may be there already (the daemon's)
  if (err && err != -EEXIST) {
    impair_bpf::destroy(skeleton);
    return fail(link::describe_bpf_error(err, "creating the clsact qdisc"));
  }
  if ((err = bpf_tc_attach(&hook, &opts))) {
    impair_bpf::destroy(skeleton);
    return fail(link::describe_bpf_error(err, "attaching the impairment program"));
  }
  std::printf("attached\n");
  std::fflush(stdout);

  wait_for_stop(stop, o.duration);

  // Only our filter goes: the qdisc may carry the daemon's.
  opts.prog_fd = 0;
  opts.prog_id = 0;
  opts.flags = 0;
  bpf_tc_detach(&hook, &opts);
  const auto& c = skeleton->bss->counters;
  std::printf(
      "data_segments=%llu dropped=%llu duplicated=%llu reordered=%llu released=%llu\n",
      static_cast<unsigned long long>(c.data_segments), static_cast<unsigned long long>(c.dropped),
      static_cast<unsigned long long>(c.duplicated), static_cast<unsigned long long>(c.reordered),
      static_cast<unsigned long long>(c.released));
  std::fflush(stdout);
  impair_bpf::destroy(skeleton);
  return 0;
}
