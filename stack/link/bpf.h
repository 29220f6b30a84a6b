// The little of eBPF that the SYN shield needs, on the raw bpf() system call (no libbpf): array
// maps that user space maps into its memory, loading a socket-filter program, and an assembler
// for writing such a program by hand with labels instead of counted jump offsets.
#pragma once

#include <linux/bpf.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/status.h"

namespace tapstack::link::bpf {

// An owned file descriptor (of a map, a program, or any other file).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// A BPF_MAP_TYPE_ARRAY with 32-bit keys, mapped into our memory (BPF_F_MMAPABLE): user space
// reads and writes the values directly, as the program does.
class ArrayMap {
 public:
  static Result<ArrayMap> create(const char* name, uint32_t value_size, uint32_t entries);
  ArrayMap(ArrayMap&& other) noexcept;
  ArrayMap& operator=(ArrayMap&&) = delete;
  ArrayMap(const ArrayMap&) = delete;
  ~ArrayMap();

  int fd() const { return fd_.get(); }
  // Entry `index`'s value (entries are laid out every value_size bytes rounded up to 8).
  uint8_t* value(uint32_t index) const { return memory_ + size_t{index} * stride_; }
  size_t value_size() const { return value_size_; }

 private:
  ArrayMap(Fd fd, uint8_t* memory, size_t length, size_t value_size);
  Fd fd_;
  uint8_t* memory_ = nullptr;
  size_t length_ = 0;
  size_t value_size_ = 0;
  size_t stride_ = 0;
};

// Loads a BPF_PROG_TYPE_SOCKET_FILTER program; on failure the message carries the verifier log.
Result<Fd> load_socket_filter(const std::vector<bpf_insn>& program, const char* name);

// What the kernel reported for BPF_PROG_TEST_RUN: the program's return value for the frame, and
// the time one run took on average, measured in the kernel.
struct TestRun {
  uint32_t verdict = 0;
  uint32_t duration_ns = 0;
};
// Runs a socket filter `repeat` times on `frame` (an Ethernet frame) in the kernel, as a TAP
// would run it on a frame queued for its reader.
Result<TestRun> run_socket_filter(const Fd& program, std::span<const uint8_t> frame,
                                  uint32_t repeat = 1);

// Builds a program. Registers are r0..r10 as numbers; jumps name labels that bind() places.
class Assembler {
 public:
  using Reg = uint8_t;
  static constexpr Reg r0 = 0, r1 = 1, r2 = 2, r6 = 6, r7 = 7, r8 = 8, r9 = 9, r10 = 10;

  void mov(Reg dst, Reg src) { emit(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
  void mov_imm(Reg dst, int32_t imm) { emit(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
  // 64-bit arithmetic: op is BPF_ADD, BPF_SUB, BPF_AND, BPF_XOR, BPF_MUL, BPF_LSH, BPF_RSH...
  void alu_imm(uint8_t op, Reg dst, int32_t imm) { emit(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
  void alu(uint8_t op, Reg dst, Reg src) { emit(BPF_ALU64 | op | BPF_X, dst, src, 0, 0); }
  // r0 = the packet's bytes at `offset` (size BPF_B, BPF_H or BPF_W), in host order; a packet
  // too short ends the program with 0. Needs the context in r6; clobbers r1..r5.
  void load_packet(uint8_t size, int32_t offset) { emit(BPF_LD | size | BPF_ABS, 0, 0, 0, offset); }
  // The same at `offset` + `index`.
  void load_packet_at(uint8_t size, Reg index, int32_t offset) {
    emit(BPF_LD | size | BPF_IND, 0, index, 0, offset);
  }
  void load(uint8_t size, Reg dst, Reg base, int16_t offset) {
    emit(BPF_LDX | size | BPF_MEM, dst, base, offset, 0);
  }
  void store(uint8_t size, Reg base, int16_t offset, Reg src) {
    emit(BPF_STX | size | BPF_MEM, base, src, offset, 0);
  }
  void store_imm(uint8_t size, Reg base, int16_t offset, int32_t imm) {
    emit(BPF_ST | size | BPF_MEM, base, 0, offset, imm);
  }
  // *(u64*)(base + offset) op= src, atomically; op is BPF_ADD or BPF_OR.
  void atomic64(uint8_t op, Reg base, int16_t offset, Reg src) {
    emit(BPF_STX | BPF_DW | BPF_ATOMIC, base, src, offset, op);
  }
  void load_map_fd(Reg dst, int map_fd);
  void call(int32_t helper) { emit(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void exit() { emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
  // if (dst op imm) goto label; op is BPF_JEQ, BPF_JNE...
  void jump_if_imm(uint8_t op, Reg dst, int32_t imm, const std::string& label);
  void bind(const std::string& label) { labels_[label] = program_.size(); }

  // The program with every jump resolved; throws std::logic_error on an unbound label.
  std::vector<bpf_insn> finish() const;

 private:
  void emit(uint8_t code, Reg dst, Reg src, int16_t off, int32_t imm);
  std::vector<bpf_insn> program_;
  std::map<std::string, size_t> labels_;
  std::vector<std::pair<size_t, std::string>> jumps_;  // instruction index, target label
};

}  // namespace tapstack::link::bpf
