#include "stack/link/syn_shield_program.h"

#include <cstddef>

#include "stack/link/bpf.h"

namespace tapstack::link {
namespace {

using A = bpf::Assembler;

// Frame offsets: Ethernet header 14 bytes, then IPv4.
constexpr int32_t kEthertype = 12;
constexpr int32_t kIp = 14;
constexpr int32_t kIpFragment = kIp + 6;
constexpr int32_t kIpProtocol = kIp + 9;
constexpr int32_t kIpSource = kIp + 12;
constexpr int32_t kIpDestination = kIp + 16;
// TCP fields, from the start of the TCP header (which follows the IPv4 options).
constexpr int32_t kTcpPorts = 0;
constexpr int32_t kTcpSequence = 4;
constexpr int32_t kTcpFlags = 13;
constexpr int32_t kSyn = 0x02;
constexpr int32_t kAck = 0x10;

constexpr int16_t field(size_t offset) {
  return static_cast<int16_t>(offset);
}
constexpr int16_t kActive = field(offsetof(SynShieldControl, active));
constexpr int16_t kGeneration = field(offsetof(SynShieldControl, generation));
constexpr int16_t kSeed = field(offsetof(SynShieldControl, seed));
constexpr int16_t kDropped = field(offsetof(SynShieldControl, first_syns_dropped));
constexpr int16_t kPassed = field(offsetof(SynShieldControl, retransmissions_passed));

// Stack slots (below r10).
constexpr int16_t kKeySlot = -4;   // u32 map key
constexpr int16_t kBitSlot = -16;  // u64 mask of the SYN's bit within its word

// r0 = pointer to the bitmap word of generation `generation_reg`'s bitmap at byte offset r7
// (the caller's), or jumps to "pass" if the lookup fails.
void bitmap_word(A& a, int bitmap_fd, A::Reg generation_reg) {
  a.store(BPF_W, A::r10, kKeySlot, generation_reg);
  a.load_map_fd(A::r1, bitmap_fd);
  a.mov(A::r2, A::r10);
  a.alu_imm(BPF_ADD, A::r2, kKeySlot);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "pass");
  a.alu(BPF_ADD, A::r0, A::r7);
}

// Jumps to "seen" if the word at r0 has the SYN's bit; leaves r2 = the bit.
void test_bit(A& a) {
  a.load(BPF_DW, A::r1, A::r0, 0);
  a.load(BPF_DW, A::r2, A::r10, kBitSlot);
  a.alu(BPF_AND, A::r1, A::r2);
  a.jump_if_imm(BPF_JNE, A::r1, 0, "seen");
}

// r9 = (r9 ^ r0) * odd constant: one round of the tuple hash.
void mix(A& a) {
  a.alu(BPF_XOR, A::r9, A::r0);
  a.alu_imm(BPF_MUL, A::r9, static_cast<int32_t>(0x9E3779B1u));
}

}  // namespace

std::vector<bpf_insn> syn_shield_program(int control_map_fd, int bitmap_map_fd) {
  A a;
  a.mov(A::r6, A::r1);  // the packet loads need the context in r6

  // An unfragmented IPv4 TCP SYN without ACK, or it passes.
  a.load_packet(BPF_H, kEthertype);
  a.jump_if_imm(BPF_JNE, A::r0, 0x0800, "pass");
  a.load_packet(BPF_B, kIpProtocol);
  a.jump_if_imm(BPF_JNE, A::r0, 6, "pass");
  a.load_packet(BPF_H, kIpFragment);
  a.alu_imm(BPF_AND, A::r0, 0x3fff);  // more-fragments flag and offset
  a.jump_if_imm(BPF_JNE, A::r0, 0, "pass");
  a.load_packet(BPF_B, kIp);
  a.alu_imm(BPF_AND, A::r0, 0xf);
  a.alu_imm(BPF_LSH, A::r0, 2);
  a.mov(A::r7, A::r0);  // IPv4 header length: the TCP header is at kIp + r7
  a.load_packet_at(BPF_B, A::r7, kIp + kTcpFlags);
  a.alu_imm(BPF_AND, A::r0, kSyn | kAck);
  a.jump_if_imm(BPF_JNE, A::r0, kSyn, "pass");

  a.store_imm(BPF_W, A::r10, kKeySlot, 0);
  a.load_map_fd(A::r1, control_map_fd);
  a.mov(A::r2, A::r10);
  a.alu_imm(BPF_ADD, A::r2, kKeySlot);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "pass");
  a.mov(A::r8, A::r0);  // r8: the control value from here on

  // r9 = a keyed hash of addresses, ports and sequence number.
  a.load(BPF_DW, A::r9, A::r8, kSeed);
  a.load_packet(BPF_W, kIpSource);
  mix(a);
  a.load_packet(BPF_W, kIpDestination);
  mix(a);
  a.load_packet_at(BPF_W, A::r7, kIp + kTcpPorts);
  mix(a);
  a.load_packet_at(BPF_W, A::r7, kIp + kTcpSequence);
  mix(a);
  a.mov(A::r0, A::r9);
  a.alu_imm(BPF_RSH, A::r0, 29);
  a.alu(BPF_XOR, A::r9, A::r0);

  // The SYN's bit: word at byte offset r7 = (bit index / 64) * 8, mask 1 << (bit index % 64).
  a.mov(A::r7, A::r9);
  a.alu_imm(BPF_AND, A::r7, static_cast<int32_t>(kSynShieldBits - 1));
  a.alu_imm(BPF_RSH, A::r7, 6);
  a.alu_imm(BPF_LSH, A::r7, 3);
  a.alu_imm(BPF_AND, A::r9, 63);
  a.mov_imm(A::r1, 1);
  a.alu(BPF_LSH, A::r1, A::r9);
  a.store(BPF_DW, A::r10, kBitSlot, A::r1);

  // Seen in the previous generation or the current one: a retransmission, it passes.
  a.load(BPF_DW, A::r9, A::r8, kGeneration);
  a.alu_imm(BPF_AND, A::r9, 1);
  a.mov_imm(A::r1, 1);
  a.alu(BPF_SUB, A::r1, A::r9);
  bitmap_word(a, bitmap_map_fd, A::r1);
  test_bit(a);
  bitmap_word(a, bitmap_map_fd, A::r9);
  test_bit(a);
  // First sighting: remember it, active or not (a SYN the TAP's queue lost just before the
  // shield came on must find its retransmission let through), and drop it if active.
  a.atomic64(BPF_OR, A::r0, 0, A::r2);
  a.load(BPF_DW, A::r0, A::r8, kActive);
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "pass");
  a.mov_imm(A::r1, 1);
  a.atomic64(BPF_ADD, A::r8, kDropped, A::r1);
  a.mov_imm(A::r0, 0);
  a.exit();

  a.bind("seen");
  a.load(BPF_DW, A::r0, A::r8, kActive);
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "pass");
  a.mov_imm(A::r1, 1);
  a.atomic64(BPF_ADD, A::r8, kPassed, A::r1);
  a.bind("pass");
  a.load(BPF_W, A::r0, A::r6, offsetof(__sk_buff, len));  // keep the whole frame
  a.exit();
  return a.finish();
}

}  // namespace tapstack::link
