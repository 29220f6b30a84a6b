#include "stack/link/queue_steering_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <string>

#include "stack/link/bpf_errors.h"

// bpftool's skeleton embeds the object file as one long string literal.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "queue_steering.skel.h"
#pragma GCC diagnostic pop

namespace tapstack::link {

Result<std::unique_ptr<QueueSteeringProgram>> QueueSteeringProgram::load(const tcp::SipKey& key) {
  LibbpfWarnings warnings;
  std::unique_ptr<QueueSteeringProgram> program(new QueueSteeringProgram());
  program->skeleton_ = queue_steering_bpf::open();
  int err = program->skeleton_ ? 0 : errno;
  if (!err) {
    // .rodata: fixed for the program's life once loaded.
    program->skeleton_->rodata->steering_key[0] = key.k0;
    program->skeleton_->rodata->steering_key[1] = key.k1;
    err = queue_steering_bpf::load(program->skeleton_);
  }
  if (err) {
    std::string message = describe_bpf_error(err, "loading the TAP's queue steering (BPF)");
    if (!warnings.text().empty()) message += "; libbpf: " + warnings.text();
    return error(ErrorCode::kUnavailable, message);
  }
  return program;
}

QueueSteeringProgram::~QueueSteeringProgram() {
  queue_steering_bpf::destroy(skeleton_);
}

int QueueSteeringProgram::program_fd() const {
  return bpf_program__fd(skeleton_->progs.queue_steering);
}

Status QueueSteeringProgram::attach(int tap_fd) const {
  int fd = program_fd();
  if (ioctl(tap_fd, TUNSETSTEERINGEBPF, &fd) < 0) {
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(errno, "attaching the queue steering to the TAP"));
  }
  return Status::ok();
}

Result<uint32_t> QueueSteeringProgram::run_once(std::span<const uint8_t> frame) const {
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.repeat = 1;
  if (int err = bpf_prog_test_run_opts(program_fd(), &opts); err) {
    return error(ErrorCode::kUnavailable,
                 describe_bpf_error(err, "running the TAP's queue steering"));
  }
  return opts.retval;
}

}  // namespace tapstack::link
