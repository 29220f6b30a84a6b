#include "stack/link/bpf.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdexcept>

namespace tapstack::link::bpf {
namespace {

long sys_bpf(int cmd, bpf_attr& attr) {
  return syscall(__NR_bpf, cmd, &attr, sizeof attr);
}

Status system_error(const std::string& what) {
  return error(ErrorCode::kUnavailable, what + ": " + strerror(errno));
}

constexpr size_t kEthernetPadding = 14;

void copy_name(char (&to)[BPF_OBJ_NAME_LEN], const char* name) {
  strncpy(to, name, BPF_OBJ_NAME_LEN - 1);
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<ArrayMap> ArrayMap::create(const char* name, uint32_t value_size, uint32_t entries) {
  bpf_attr attr{};
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = sizeof(uint32_t);
  attr.value_size = value_size;
  attr.max_entries = entries;
  attr.map_flags = BPF_F_MMAPABLE;
  copy_name(attr.map_name, name);
  Fd fd(static_cast<int>(sys_bpf(BPF_MAP_CREATE, attr)));
  if (fd.get() < 0) return system_error(std::string("creating BPF map ") + name);
  size_t stride = (size_t{value_size} + 7) / 8 * 8;
  size_t length = stride * entries;
  void* memory = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (memory == MAP_FAILED) return system_error(std::string("mapping BPF map ") + name);
  return ArrayMap(std::move(fd), static_cast<uint8_t*>(memory), length, value_size);
}

ArrayMap::ArrayMap(Fd fd, uint8_t* memory, size_t length, size_t value_size)
    : fd_(std::move(fd)),
      memory_(memory),
      length_(length),
      value_size_(value_size),
      stride_((value_size + 7) / 8 * 8) {}

ArrayMap::ArrayMap(ArrayMap&& other) noexcept
    : fd_(std::move(other.fd_)),
      memory_(std::exchange(other.memory_, nullptr)),
      length_(other.length_),
      value_size_(other.value_size_),
      stride_(other.stride_) {}

ArrayMap::~ArrayMap() {
  if (memory_) munmap(memory_, length_);
}

Result<Fd> load_socket_filter(const std::vector<bpf_insn>& program, const char* name) {
  static const char kLicense[] = "GPL";
  std::string log(64 * 1024, '\0');
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<uintptr_t>(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  attr.log_buf = reinterpret_cast<uintptr_t>(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  copy_name(attr.prog_name, name);
  Fd fd(static_cast<int>(sys_bpf(BPF_PROG_LOAD, attr)));
  if (fd.get() < 0) {
    Status status = system_error(std::string("loading BPF program ") + name);
    log.resize(strnlen(log.data(), log.size()));
    if (!log.empty()) status.message += "; verifier: " + log;
    return status;
  }
  return fd;
}

Result<TestRun> run_socket_filter(const Fd& program, std::span<const uint8_t> frame,
                                  uint32_t repeat) {
  // The kernel builds the test packet as if received on an Ethernet device: it takes the first
  // 14 bytes as the link header and starts the data after them. A TAP's filter sees the whole
  // frame from its first byte, so a header of padding goes in front of it.
  std::vector<uint8_t> data(kEthernetPadding, 0);
  data[12] = 0x08;  // IPv4, as the frame's own header says of a TCP segment
  data.insert(data.end(), frame.begin(), frame.end());
  bpf_attr attr{};
  attr.test.prog_fd = static_cast<uint32_t>(program.get());
  attr.test.data_in = reinterpret_cast<uintptr_t>(data.data());
  attr.test.data_size_in = static_cast<uint32_t>(data.size());
  attr.test.repeat = repeat;
  if (sys_bpf(BPF_PROG_TEST_RUN, attr) < 0) return system_error("running BPF program");
  return TestRun{attr.test.retval, attr.test.duration};
}

void Assembler::emit(uint8_t code, Reg dst, Reg src, int16_t off, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0xf;
  insn.src_reg = src & 0xf;
  insn.off = off;
  insn.imm = imm;
  program_.push_back(insn);
}

void Assembler::load_map_fd(Reg dst, int map_fd) {
  // A 64-bit immediate takes two instructions; the loader replaces the fd with the map.
  emit(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map_fd);
  emit(0, 0, 0, 0, 0);
}

void Assembler::jump_if_imm(uint8_t op, Reg dst, int32_t imm, const std::string& label) {
  jumps_.emplace_back(program_.size(), label);
  emit(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
}

std::vector<bpf_insn> Assembler::finish() const {
  std::vector<bpf_insn> out = program_;
  for (const auto& [at, label] : jumps_) {
    auto target = labels_.find(label);
    if (target == labels_.end()) throw std::logic_error("BPF label not bound: " + label);
    // Offsets count from the instruction after the jump.
    out[at].off =
        static_cast<int16_t>(static_cast<long>(target->second) - static_cast<long>(at) - 1);
  }
  return out;
}

}  // namespace tapstack::link::bpf
