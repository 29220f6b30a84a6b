// Error messages for loading and attaching BPF programs with libbpf: what failed, why, and for
// a missing privilege which capabilities are needed; libbpf's own warnings kept for the message
// instead of printed to stderr (a daemon without the capabilities logs one line, not a dozen).
#pragma once

#include <bpf/libbpf.h>

#include <string>

namespace tapstack::link {

// "what: strerror(err)", plus the capabilities needed when err is EPERM or EACCES. err may be
// negative (libbpf's convention) or positive (errno).
std::string describe_bpf_error(int err, const std::string& what);

// While it lives, libbpf's warnings on this thread go to text() instead of stderr.
class LibbpfWarnings {
 public:
  LibbpfWarnings();
  ~LibbpfWarnings();
  LibbpfWarnings(const LibbpfWarnings&) = delete;
  LibbpfWarnings& operator=(const LibbpfWarnings&) = delete;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  libbpf_print_fn_t previous_;  // restored by the destructor
};

}  // namespace tapstack::link
