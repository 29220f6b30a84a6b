#include "stack/link/syn_shield_program.h"

#include <atomic>
#include <cstddef>

#include "stack/link/bpf.h"

namespace tapstack::link {
namespace {

using A = bpf::Assembler;

// Frame offsets: Ethernet header 14 bytes, then IPv4. The packet loads are helper calls, so the
// header fields are read in two 32-bit words: ethertype and version/IHL, then fragment field and
// protocol.
constexpr int32_t kEthertypeWord = 12;  // ethertype (16 bits), version/IHL, TOS
constexpr int32_t kIp = 14;
constexpr int32_t kFragmentWord = kIp + 6;  // flags/fragment offset (16 bits), TTL, protocol
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

constexpr int16_t kKeySlot = -4;  // stack slot (below r10) for a u32 map key

// r9 = (r9 ^ r0) * odd constant: one round of the tuple hash.
void mix(A& a) {
  a.alu(BPF_XOR, A::r9, A::r0);
  a.alu_imm(BPF_MUL, A::r9, static_cast<int32_t>(0x9E3779B1u));
}

// r0 = the map's value for key `key`, or jumps to "pass" if the lookup fails.
void lookup(A& a, int map_fd, A::Reg key) {
  a.store(BPF_W, A::r10, kKeySlot, key);
  a.load_map_fd(A::r1, map_fd);
  a.mov(A::r2, A::r10);
  a.alu_imm(BPF_ADD, A::r2, kKeySlot);
  a.call(BPF_FUNC_map_lookup_elem);
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "pass");
}

}  // namespace

std::vector<bpf_insn> syn_shield_program(int control_map_fd, int bitmap_map_fd) {
  A a;
  a.mov(A::r6, A::r1);  // the packet loads need the context in r6

  // An unfragmented IPv4 TCP SYN without ACK, or it passes.
  a.load_packet(BPF_W, kEthertypeWord);
  a.mov(A::r7, A::r0);
  a.alu_imm(BPF_RSH, A::r0, 16);
  a.jump_if_imm(BPF_JNE, A::r0, 0x0800, "pass");
  a.alu_imm(BPF_RSH, A::r7, 8);
  a.alu_imm(BPF_AND, A::r7, 0xf);
  a.alu_imm(BPF_LSH, A::r7, 2);  // r7: IPv4 header length; the TCP header is at kIp + r7
  a.load_packet(BPF_W, kFragmentWord);
  a.mov(A::r1, A::r0);
  a.alu_imm(BPF_AND, A::r1, 0xff);
  a.jump_if_imm(BPF_JNE, A::r1, 6, "pass");
  a.alu_imm(BPF_RSH, A::r0, 16);
  a.alu_imm(BPF_AND, A::r0, 0x3fff);  // more-fragments flag and offset
  a.jump_if_imm(BPF_JNE, A::r0, 0, "pass");
  a.load_packet_at(BPF_B, A::r7, kIp + kTcpFlags);
  a.alu_imm(BPF_AND, A::r0, kSyn | kAck);
  a.jump_if_imm(BPF_JNE, A::r0, kSyn, "pass");

  a.mov_imm(A::r1, 0);
  lookup(a, control_map_fd, A::r1);
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

  // The SYN's bit: its word pair at byte offset r7 of map entry r1, mask r9 (see the header).
  a.mov(A::r7, A::r9);
  a.alu_imm(BPF_RSH, A::r7, 6);
  a.alu_imm(BPF_AND, A::r7, static_cast<int32_t>(kSynShieldPairsPerEntry - 1));
  a.alu_imm(BPF_LSH, A::r7, 4);
  a.mov(A::r1, A::r9);
  a.alu_imm(BPF_RSH, A::r1, kSynShieldEntryShift);
  a.alu_imm(BPF_AND, A::r1, static_cast<int32_t>(kSynShieldBitmapEntries - 1));
  a.alu_imm(BPF_AND, A::r9, 63);
  a.mov_imm(A::r0, 1);
  a.alu(BPF_LSH, A::r0, A::r9);
  a.mov(A::r9, A::r0);
  lookup(a, bitmap_map_fd, A::r1);
  a.alu(BPF_ADD, A::r0, A::r7);

  // Seen in either generation: a retransmission, it passes.
  a.load(BPF_DW, A::r1, A::r0, 0);
  a.load(BPF_DW, A::r2, A::r0, 8);
  a.alu(BPF_OR, A::r1, A::r2);
  a.alu(BPF_AND, A::r1, A::r9);
  a.jump_if_imm(BPF_JNE, A::r1, 0, "seen");
  // First sighting: remember it in the current generation's word, active or not (a SYN the TAP's
  // queue lost just before the shield came on must find its retransmission let through), and
  // drop it if active.
  a.load(BPF_DW, A::r1, A::r8, kGeneration);
  a.alu_imm(BPF_AND, A::r1, 1);
  a.alu_imm(BPF_LSH, A::r1, 3);
  a.alu(BPF_ADD, A::r0, A::r1);
  a.atomic64(BPF_OR, A::r0, 0, A::r9);
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

Result<SynShieldFilter> SynShieldFilter::load(uint64_t seed) {
  auto control = bpf::ArrayMap::create("tapstack_shield", sizeof(SynShieldControl), 1);
  if (!control.is_ok()) return control.status();
  auto bitmap =
      bpf::ArrayMap::create("tapstack_syns", kSynShieldEntryBytes, kSynShieldBitmapEntries);
  if (!bitmap.is_ok()) return bitmap.status();
  auto program =
      bpf::load_socket_filter(syn_shield_program(control->fd(), bitmap->fd()), "tapstack_shield");
  if (!program.is_ok()) return program.status();
  SynShieldFilter filter(std::move(control.value()), std::move(bitmap.value()),
                         std::move(program.value()));
  store_shared(filter.control().seed, seed);
  return filter;
}

SynShieldFilter::SynShieldFilter(bpf::ArrayMap control, bpf::ArrayMap bitmap, bpf::Fd program)
    : control_(std::move(control)), bitmap_(std::move(bitmap)), program_(std::move(program)) {}

SynShieldControl& SynShieldFilter::control() const {
  return *reinterpret_cast<SynShieldControl*>(control_.value(0));
}

void SynShieldFilter::start_generation(uint64_t generation) {
  // The generation about to be written is the older one: forget it first. The program ORs bits
  // into the other generation's words meanwhile, in the same cache lines, never into these.
  for (uint32_t entry = 0; entry < kSynShieldBitmapEntries; ++entry) {
    auto* words = reinterpret_cast<uint64_t*>(bitmap_.value(entry));
    for (size_t pair = 0; pair < kSynShieldPairsPerEntry; ++pair) {
      std::atomic_ref<uint64_t>(words[2 * pair + generation]).store(0, std::memory_order_relaxed);
    }
  }
  store_shared(control().generation, generation);
}

}  // namespace tapstack::link
