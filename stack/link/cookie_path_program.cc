#include "stack/link/cookie_path_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "stack/link/bpf_errors.h"

// bpftool's skeleton embeds the object file as one long string literal.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "cookie_path.skel.h"
#pragma GCC diagnostic pop

namespace tapstack::link {
namespace {

size_t page_rounded(size_t bytes) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// The mapped size of an mmapable array map: its elements are 8-byte aligned.
size_t mapped_size(const bpf_map* map) {
  size_t element = (bpf_map__value_size(map) + 7) / 8 * 8;
  return page_rounded(element * bpf_map__max_entries(map));
}

Result<void*> map_memory(const bpf_map* map) {
  void* memory =
      mmap(nullptr, mapped_size(map), PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
  if (memory == MAP_FAILED) {
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(
                     errno, std::string("mapping the cookie path's map ") + bpf_map__name(map)));
  }
  return memory;
}

bpf_tc_hook egress_hook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_EGRESS;
  return hook;
}

// Our filter's place on the hook, so that detaching finds it again.
constexpr uint32_t kFilterHandle = 1;
constexpr uint32_t kFilterPriority = 1;

bpf_tc_opts filter_opts(int program_fd) {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kFilterHandle;
  opts.priority = kFilterPriority;
  opts.prog_fd = program_fd;
  return opts;
}

}  // namespace

Result<std::unique_ptr<CookiePathProgram>> CookiePathProgram::load() {
  LibbpfWarnings warnings;
  cookie_path_bpf* skeleton = cookie_path_bpf::open_and_load();
  if (!skeleton) {
    std::string message = describe_bpf_error(errno, "loading the kernel cookie path (BPF)");
    if (!warnings.text().empty()) message += "; libbpf: " + warnings.text();
    return error(ErrorCode::kUnavailable, message);
  }
  std::unique_ptr<CookiePathProgram> program(new CookiePathProgram());
  program->skeleton_ = skeleton;
  auto config = map_memory(skeleton->maps.config);
  if (!config.is_ok()) return config.status();
  program->memory_.config = static_cast<cookie_path_config*>(*config);
  auto listeners = map_memory(skeleton->maps.listeners);
  if (!listeners.is_ok()) return listeners.status();
  program->memory_.listeners = static_cast<cookie_path_listener*>(*listeners);
  auto live = map_memory(skeleton->maps.live);
  if (!live.is_ok()) return live.status();
  program->memory_.live = static_cast<uint32_t*>(*live);
  return program;
}

CookiePathProgram::~CookiePathProgram() {
  if (attached_ifindex_) {
    // The TAP may be gone already, and the filter with it: nothing left to undo then.
    bpf_tc_hook hook = egress_hook(attached_ifindex_);
    bpf_tc_opts opts = filter_opts(0);
    bpf_tc_detach(&hook, &opts);
    if (created_qdisc_) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
  }
  if (memory_.config) munmap(memory_.config, mapped_size(skeleton_->maps.config));
  if (memory_.listeners) munmap(memory_.listeners, mapped_size(skeleton_->maps.listeners));
  if (memory_.live) munmap(memory_.live, mapped_size(skeleton_->maps.live));
  cookie_path_bpf::destroy(skeleton_);
}

int CookiePathProgram::program_fd() const {
  return bpf_program__fd(skeleton_->progs.cookie_path);
}

Status CookiePathProgram::attach(int ifindex) {
  if (attached_ifindex_) {
    return error(ErrorCode::kFailedPrecondition, "the kernel cookie path is already attached");
  }
  bpf_tc_hook hook = egress_hook(ifindex);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) {
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(err, "creating the TAP's clsact qdisc"));
  }
  bool created = err == 0;
  bpf_tc_opts opts = filter_opts(program_fd());
  opts.flags = BPF_TC_F_REPLACE;
  err = bpf_tc_attach(&hook, &opts);
  if (err) {
    if (created) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(err, "attaching the kernel cookie path to the TAP's egress"));
  }
  attached_ifindex_ = ifindex;
  created_qdisc_ = created;
  return Status::ok();
}

CookiePathStats CookiePathProgram::stats() const {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(cpus > 0 ? static_cast<size_t>(cpus) : 1);
  auto total = [&](uint32_t stat) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.stats), &stat, per_cpu.data()) == 0) {
      for (uint64_t v : per_cpu) sum += v;
    }
    return sum;
  };
  CookiePathStats s;
  s.bad_checksum = total(COOKIE_PATH_STAT_BAD_CHECKSUM);
  s.invalid_source = total(COOKIE_PATH_STAT_INVALID_SOURCE);
  s.ignored = total(COOKIE_PATH_STAT_IGNORED);
  s.resets = total(COOKIE_PATH_STAT_RESETS);
  s.closed_port_resets = total(COOKIE_PATH_STAT_CLOSED_PORT_RESETS);
  s.no_route = total(COOKIE_PATH_STAT_NO_ROUTE);
  return s;
}

Result<CookiePathTestRun> CookiePathProgram::run_once(std::span<const uint8_t> frame,
                                                      uint32_t repeat) const {
  CookiePathTestRun run;
  // Room for the longest answer the program writes, whatever it was given.
  run.frame.resize(frame.size() + 128);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = run.frame.data();
  opts.data_size_out = static_cast<uint32_t>(run.frame.size());
  opts.repeat = repeat;
  if (int err = bpf_prog_test_run_opts(program_fd(), &opts); err) {
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(err, "running the kernel cookie path"));
  }
  run.verdict = static_cast<int>(opts.retval);
  run.frame.resize(opts.data_size_out);
  run.duration_ns = opts.duration;
  return run;
}

}  // namespace tapstack::link
