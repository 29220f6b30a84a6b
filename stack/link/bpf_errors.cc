#include "stack/link/bpf_errors.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace tapstack::link {
namespace {

thread_local std::string* libbpf_log = nullptr;

int keep_libbpf_warnings(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !libbpf_log) return 0;
  char line[512];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (libbpf_log->size() < 4096 && n > 0) libbpf_log->append(line);
  return 0;
}

}  // namespace

std::string describe_bpf_error(int err, const std::string& what) {
  err = err < 0 ? -err : err;
  std::string message = what + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) {
    message +=
        " (needs CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN, and no seccomp filter "
        "blocking bpf())";
  }
  return message;
}

LibbpfWarnings::LibbpfWarnings() {
  libbpf_log = &text_;
  previous_ = libbpf_set_print(keep_libbpf_warnings);
}

LibbpfWarnings::~LibbpfWarnings() {
  libbpf_set_print(previous_);
  libbpf_log = nullptr;
}

}  // namespace tapstack::link
