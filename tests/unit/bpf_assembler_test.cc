// The BPF assembler behind the SYN shield: encodings and jump offsets (the kernel's verifier,
// which checks the real program, runs in the integration tests).
#include "stack/link/bpf.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "stack/link/syn_shield_program.h"

namespace tapstack::link::bpf {
namespace {

using A = Assembler;

TEST(BpfAssembler, JumpsCountFromTheInstructionAfterThemForwardAndBack) {
  A a;
  a.bind("top");                            // 0
  a.mov_imm(A::r0, 1);                      // 0
  a.jump_if_imm(BPF_JEQ, A::r0, 2, "end");  // 1 -> 4
  a.jump_if_imm(BPF_JNE, A::r0, 3, "top");  // 2 -> 0
  a.mov_imm(A::r0, 0);                      // 3
  a.bind("end");                            // 4
  a.exit();                                 // 4
  auto p = a.finish();
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[1].code, BPF_JMP | BPF_JEQ | BPF_K);
  EXPECT_EQ(p[1].off, 2);
  EXPECT_EQ(p[1].imm, 2);
  EXPECT_EQ(p[2].off, -3);
  EXPECT_EQ(p[4].code, BPF_JMP | BPF_EXIT);
}

TEST(BpfAssembler, MapFdLoadTakesTwoInstructionsAndJumpsSkipBoth) {
  A a;
  a.jump_if_imm(BPF_JEQ, A::r1, 0, "after");
  a.load_map_fd(A::r1, 42);
  a.bind("after");
  a.exit();
  auto p = a.finish();
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].off, 2);
  EXPECT_EQ(p[1].code, BPF_LD | BPF_DW | BPF_IMM);
  EXPECT_EQ(p[1].src_reg, BPF_PSEUDO_MAP_FD);
  EXPECT_EQ(p[1].imm, 42);
  EXPECT_EQ(p[2].code, 0);
}

TEST(BpfAssembler, EncodesRegistersOffsetsAndAtomicOps) {
  A a;
  a.load(BPF_DW, A::r1, A::r8, 16);
  a.store(BPF_W, A::r10, -4, A::r9);
  a.atomic64(BPF_OR, A::r0, 8, A::r2);
  a.load_packet_at(BPF_B, A::r7, 27);
  auto p = a.finish();
  EXPECT_EQ(p[0].code, BPF_LDX | BPF_DW | BPF_MEM);
  EXPECT_EQ(p[0].dst_reg, 1);
  EXPECT_EQ(p[0].src_reg, 8);
  EXPECT_EQ(p[0].off, 16);
  EXPECT_EQ(p[1].code, BPF_STX | BPF_W | BPF_MEM);
  EXPECT_EQ(p[1].dst_reg, 10);
  EXPECT_EQ(p[1].src_reg, 9);
  EXPECT_EQ(p[1].off, -4);
  EXPECT_EQ(p[2].code, BPF_STX | BPF_DW | BPF_ATOMIC);
  EXPECT_EQ(p[2].imm, BPF_OR);
  EXPECT_EQ(p[3].code, BPF_LD | BPF_B | BPF_IND);
  EXPECT_EQ(p[3].src_reg, 7);
  EXPECT_EQ(p[3].imm, 27);
}

TEST(BpfAssembler, AnUnboundLabelIsAnError) {
  A a;
  a.jump_if_imm(BPF_JEQ, A::r0, 0, "nowhere");
  EXPECT_THROW(a.finish(), std::logic_error);
}

TEST(SynShieldProgram, EndsInExitsAndEveryJumpLandsInside) {
  auto p = syn_shield_program(3, 4);
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.back().code, BPF_JMP | BPF_EXIT);
  for (size_t i = 0; i < p.size(); ++i) {
    uint8_t cls = BPF_CLASS(p[i].code);
    uint8_t op = BPF_OP(p[i].code);
    if (cls == BPF_JMP && op != BPF_CALL && op != BPF_EXIT) {
      long target = static_cast<long>(i) + 1 + p[i].off;
      EXPECT_GT(target, static_cast<long>(i)) << "the program only jumps forward (no loops)";
      EXPECT_LT(target, static_cast<long>(p.size()));
    }
  }
}

}  // namespace
}  // namespace tapstack::link::bpf
