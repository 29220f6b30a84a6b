// parse_tcp_options against the layouts real stacks send and against malformed option bytes,
// with Linux's tcp_parse_options (net/ipv4/tcp_input.c) as the behaviour to match.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "stack/header/tcp_options.h"

namespace tapstack::header {
namespace {

using Bytes = std::vector<uint8_t>;

TcpOptions Parse(const Bytes& bytes) {
  return parse_tcp_options(bytes);
}

TcpOptions Expect(std::optional<uint16_t> mss, std::optional<uint8_t> window_scale, bool sack,
                  std::optional<TcpTimestamp> timestamp) {
  TcpOptions o;
  o.mss = mss;
  o.window_scale = window_scale;
  o.sack_permitted = sack;
  o.timestamp = timestamp;
  return o;
}

// Linux 6.x SYN: MSS, SACK_PERM + TS packed into 12 bytes, NOP + WS.
TEST(TcpOptionsParse, LinuxSyn) {
  const Bytes syn = {2, 4, 0x05, 0xb4,                                      // MSS 1460
                     4, 2, 8,    10,   0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0,  // SACK_PERM, TS
                     1, 3, 3,    7};                                        // NOP, WS 7
  EXPECT_EQ(Parse(syn), Expect(1460, 7, true, TcpTimestamp{0x12345678, 0}));
}

TEST(TcpOptionsParse, LinuxSynWithoutTimestamps) {
  // net.ipv4.tcp_timestamps=0: SACK_PERM gets its own NOP-NOP word.
  const Bytes syn = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
  EXPECT_EQ(Parse(syn), Expect(1460, 7, true, std::nullopt));
}

TEST(TcpOptionsParse, LinuxSynWithoutSack) {
  // net.ipv4.tcp_sack=0: the timestamp gets NOP-NOP in front instead.
  const Bytes syn = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7};
  EXPECT_EQ(Parse(syn), Expect(1460, 7, false, TcpTimestamp{9, 0}));
}

TEST(TcpOptionsParse, LinuxDataSegmentTimestamp) {
  const Bytes ack = {1, 1, 8, 10, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 1};
  EXPECT_EQ(Parse(ack), Expect(std::nullopt, std::nullopt, false, TcpTimestamp{~0u, 0x80000001}));
}

TEST(TcpOptionsParse, GvisorLikeSyn) {
  // gVisor's makeSynOptions: MSS, WS (3 bytes, unaligned), TS (no NOPs), SACK_PERM, NOP padding
  // at the end. Nothing after the MSS sits on a 4-byte boundary.
  const Bytes syn = {2, 4,  0x23, 0x28,                    // MSS 9000
                     3, 3,  2,                             // WS 2
                     8, 10, 0,    0,    1, 0, 0, 0, 2, 0,  // TS 256/512
                     4, 2,                                 // SACK_PERM
                     1};                                   // NOP
  EXPECT_EQ(syn.size() % 4, 0u);
  EXPECT_EQ(Parse(syn), Expect(9000, 2, true, TcpTimestamp{256, 512}));
}

TEST(TcpOptionsParse, GvisorLikeSynMinimal) {
  // MSS and WS only, padded with one NOP.
  EXPECT_EQ(Parse({2, 4, 0xff, 0xd7, 3, 3, 0, 1}), Expect(65495, 0, false, std::nullopt));
}

TEST(TcpOptionsParse, EmptyAndPaddingOnly) {
  EXPECT_EQ(Parse({}), TcpOptions{});
  EXPECT_EQ(Parse({1, 1, 1, 1}), TcpOptions{});
  EXPECT_EQ(Parse({0, 0, 0, 0}), TcpOptions{});
}

TEST(TcpOptionsMalformed, LengthByteMissingAtTheEnd) {
  // A kind in the last byte has no room for its length: stop, keep the MSS.
  EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 3}), Expect(1460, std::nullopt, false, std::nullopt));
  EXPECT_EQ(Parse({2}), TcpOptions{});
  EXPECT_EQ(Parse({1, 1, 1, 200}), TcpOptions{});  // unknown kind, no length either
}

TEST(TcpOptionsMalformed, LengthZeroOrOneStops) {
  for (uint8_t length : {0, 1}) {
    // Without the stop, a length of 0 would loop forever and 1 would misread the next byte.
    EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 8, length, 4, 2}),
              Expect(1460, std::nullopt, false, std::nullopt))
        << int{length};
    EXPECT_EQ(Parse({99, length, 4, 2, 2, 4, 1, 0}), TcpOptions{}) << int{length};
  }
}

TEST(TcpOptionsMalformed, LengthBeyondTheEndStops) {
  EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 8, 10, 0, 0, 0, 1}),
            Expect(1460, std::nullopt, false, std::nullopt));
  EXPECT_EQ(Parse({4, 2, 2, 5, 0x05, 0xb4}),
            Expect(std::nullopt, std::nullopt, true, std::nullopt));
  // The option exactly reaching the end is fine.
  EXPECT_EQ(Parse({4, 2, 2, 4, 0x05, 0xb4}), Expect(1460, std::nullopt, true, std::nullopt));
}

TEST(TcpOptionsMalformed, KnownOptionWithWrongLengthIsSkipped) {
  // Each wrong-length option is followed by a valid SACK_PERM to show parsing went on, and is
  // itself ignored (Linux checks opsize == TCPOLEN_* for each kind).
  struct Case {
    Bytes bytes;
    TcpOptions expected;
  };
  const Case cases[] = {
      {{2, 3, 0x05, 4, 2}, Expect(std::nullopt, std::nullopt, true, std::nullopt)},
      {{2, 6, 0x05, 0xb4, 0, 0, 4, 2}, Expect(std::nullopt, std::nullopt, true, std::nullopt)},
      {{3, 4, 7, 0, 4, 2}, Expect(std::nullopt, std::nullopt, true, std::nullopt)},
      {{3, 2, 4, 2}, Expect(std::nullopt, std::nullopt, true, std::nullopt)},
      {{4, 3, 0, 2, 4, 1, 0xff}, Expect(511, std::nullopt, false, std::nullopt)},
      {{8, 8, 0, 0, 0, 1, 0, 0, 4, 2}, Expect(std::nullopt, std::nullopt, true, std::nullopt)},
      {{8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 3, 3, 5},
       Expect(std::nullopt, 5, false, std::nullopt)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Parse(c.bytes), c.expected) << testing::PrintToString(c.bytes);
  }
}

TEST(TcpOptionsMalformed, WindowScaleClampedTo14) {
  for (int ws : {0, 1, 13, 14}) {
    EXPECT_EQ(Parse({3, 3, static_cast<uint8_t>(ws)}).window_scale, ws) << ws;
  }
  for (int ws : {15, 16, 100, 255}) {
    EXPECT_EQ(Parse({3, 3, static_cast<uint8_t>(ws)}).window_scale, kMaxWindowScale) << ws;
  }
}

TEST(TcpOptionsMalformed, EndOfListStops) {
  EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 0, 4, 2, 1}), Expect(1460, std::nullopt, false, std::nullopt));
  EXPECT_EQ(Parse({0, 2, 4, 0x05, 0xb4}), TcpOptions{});
  // A zero inside an option's value is data, not EOL.
  EXPECT_EQ(Parse({3, 3, 0, 4, 2}), Expect(std::nullopt, 0, true, std::nullopt));
}

TEST(TcpOptionsMalformed, UnknownKindsSkipped) {
  const Bytes bytes = {
      6,   6,  0,    0,    0, 1,                                      // Echo (RFC 1072, obsolete)
      30,  4,  0,    0,                                               // MPTCP
      34,  2,                                                         // TFO cookie request
      19,  18, 0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // MD5 signature
      254, 4,  0xf9, 0x89,                                            // experimental
      2,   4,  0x05, 0x78,                                            // MSS 1400 after all of it
  };
  EXPECT_EQ(Parse(bytes), Expect(1400, std::nullopt, false, std::nullopt));
}

TEST(TcpOptionsMalformed, RepeatedOptionTakesTheLast) {
  // As in Linux, each occurrence overwrites the one before.
  EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18}).mss, 536);
  EXPECT_EQ(Parse({3, 3, 2, 3, 3, 9}).window_scale, 9);
}

TEST(TcpOptionsMalformed, ZeroMssIsIgnored) {
  // Linux keeps no MSS of zero (tcp_parse_options: "if (in_mss)"); a peer MSS of 0 would leave
  // the sender unable to send anything. An earlier valid MSS survives it.
  EXPECT_EQ(Parse({2, 4, 0, 0}).mss, std::nullopt);
  EXPECT_EQ(Parse({2, 4, 0x05, 0xb4, 2, 4, 0, 0}).mss, 1460);
}

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// An independent model of Linux's loop, written the way the kernel writes it (a pointer and a
// remaining length), to compare with on random input.
TcpOptions LinuxModel(const uint8_t* ptr, int length) {
  TcpOptions o;
  while (length > 0) {
    int opcode = *ptr++;
    if (opcode == 0) return o;
    if (opcode == 1) {
      --length;
      continue;
    }
    if (length < 2) return o;
    int opsize = *ptr++;
    if (opsize < 2 || opsize > length) return o;
    if (opcode == 2 && opsize == 4) {
      uint16_t mss = static_cast<uint16_t>(ptr[0] << 8 | ptr[1]);
      if (mss != 0) o.mss = mss;
    } else if (opcode == 3 && opsize == 3) {
      o.window_scale = ptr[0] > 14 ? 14 : ptr[0];
    } else if (opcode == 4 && opsize == 2) {
      o.sack_permitted = true;
    } else if (opcode == 8 && opsize == 10) {
      o.timestamp = TcpTimestamp{Be32(ptr), Be32(ptr + 4)};
    } else if (opcode == 5 && opsize >= 10 && (opsize - 2) % 8 == 0) {
      // tcp_sacktag_write_queue: num_sacks = min(TCP_NUM_SACKS, (opsize - 2) >> 3).
      o.sack_blocks = {};
      o.sack_block_count = static_cast<uint8_t>(std::min(4, (opsize - 2) >> 3));
      for (int b = 0; b < o.sack_block_count; ++b) {
        o.sack_blocks[b] = SackBlock{Be32(ptr + 8 * b), Be32(ptr + 8 * b + 4)};
      }
    }
    ptr += opsize - 2;
    length -= opsize;
  }
  return o;
}

TEST(TcpOptionsFuzz, RandomBlobsNeverCrashAndMatchLinuxModel) {
  std::mt19937 rng(0x7c9);
  // Bytes are drawn mostly from small values so that kinds and lengths collide often enough to
  // reach every branch; uniformly random bytes would almost always stop at the first option.
  auto byte = [&]() -> uint8_t {
    switch (rng() % 4) {
      case 0:
        return static_cast<uint8_t>(rng() % 11);
      case 1:
        return static_cast<uint8_t>(rng() % 4 == 0 ? 0 : 1 + rng() % 3);
      default:
        return static_cast<uint8_t>(rng());
    }
  };
  int with_mss = 0, with_ws = 0, with_sack = 0, with_ts = 0, with_blocks = 0;
  for (int i = 0; i < 200000; ++i) {
    // An exactly sized heap buffer, so that ASan flags a read one byte past the options.
    Bytes blob(rng() % 41);
    for (auto& b : blob) b = byte();
    const TcpOptions got = parse_tcp_options(blob);
    const TcpOptions want = LinuxModel(blob.data(), static_cast<int>(blob.size()));
    ASSERT_EQ(got, want) << testing::PrintToString(blob);
    if (got.window_scale) {
      ASSERT_LE(*got.window_scale, kMaxWindowScale);
    }
    with_mss += got.mss.has_value();
    with_ws += got.window_scale.has_value();
    with_sack += got.sack_permitted;
    with_ts += got.timestamp.has_value();
    with_blocks += got.sack_block_count > 0;
  }
  // The generator did reach every option.
  EXPECT_GT(with_mss, 100);
  EXPECT_GT(with_ws, 100);
  EXPECT_GT(with_sack, 100);
  EXPECT_GT(with_ts, 100);
  EXPECT_GT(with_blocks, 100);
}

TEST(TcpOptionsWrite, SynOptionsRoundTripAllCombinations) {
  const TcpTimestamp ts{0xfedcba98, 0x01234567};
  for (int combo = 0; combo < 16; ++combo) {
    for (uint16_t mss : {uint16_t{536}, uint16_t{1460}, uint16_t{65535}}) {
      for (uint8_t ws : {uint8_t{0}, uint8_t{7}, uint8_t{14}}) {
        TcpOptions in;
        if (combo & 1) in.mss = mss;
        if (combo & 2) in.window_scale = ws;
        in.sack_permitted = (combo & 4) != 0;
        if (combo & 8) in.timestamp = ts;

        // Guard bytes after the buffer catch writes past the returned length.
        Bytes buffer(kMaxSynOptionsLength + 8, 0xa5);
        const size_t n = write_syn_options(buffer.data(), in);
        SCOPED_TRACE("combo " + std::to_string(combo));
        EXPECT_EQ(n % 4, 0u);
        EXPECT_LE(n, kMaxSynOptionsLength);
        for (size_t i = n; i < buffer.size(); ++i) ASSERT_EQ(buffer[i], 0xa5) << i;
        EXPECT_EQ(parse_tcp_options(std::span(buffer).first(n)), in);
        // Each 4-byte word starts a fresh option or NOP: Linux's fast path for the timestamp
        // relies on that alignment.
        if (in.timestamp) {
          bool aligned = false;
          for (size_t w = 0; w + 4 <= n; w += 4) {
            aligned |= buffer[w + 2] == 8 && buffer[w + 3] == 10;
          }
          EXPECT_TRUE(aligned);
        }
      }
    }
  }
  TcpOptions all;
  all.mss = 1460;
  all.window_scale = 7;
  all.sack_permitted = true;
  all.timestamp = ts;
  uint8_t out[kMaxSynOptionsLength];
  EXPECT_EQ(write_syn_options(out, all), kMaxSynOptionsLength);
  // Exactly Linux's SYN layout.
  const Bytes linux_layout = {2,    4,    0x05, 0xb4, 4,    2,    8, 10, 0xfe, 0xdc,
                              0xba, 0x98, 0x01, 0x23, 0x45, 0x67, 1, 3,  3,    7};
  EXPECT_EQ(Bytes(out, out + kMaxSynOptionsLength), linux_layout);
  EXPECT_EQ(write_syn_options(out, TcpOptions{}), 0u);
}

TEST(TcpOptionsWrite, TimestampOptionRoundTrip) {
  Bytes buffer(kTimestampOptionLength + 4, 0xa5);
  const TcpTimestamp ts{0x80000000, 0xffffffff};
  EXPECT_EQ(write_timestamp_option(buffer.data(), ts), kTimestampOptionLength);
  EXPECT_EQ(buffer[0], 1);
  EXPECT_EQ(buffer[1], 1);
  EXPECT_EQ(buffer[kTimestampOptionLength], 0xa5);
  EXPECT_EQ(parse_tcp_options(std::span(buffer).first(kTimestampOptionLength)),
            Expect(std::nullopt, std::nullopt, false, ts));
}

// SACK blocks as TcpOptions holds them (zeros after the count).
TcpOptions WithSack(std::optional<TcpTimestamp> timestamp, std::span<const SackBlock> blocks) {
  TcpOptions o;
  o.timestamp = timestamp;
  std::copy(blocks.begin(), blocks.end(), o.sack_blocks.begin());
  o.sack_block_count = static_cast<uint8_t>(blocks.size());
  return o;
}

const SackBlock kBlocks[] = {
    {0x10000000, 0x10000500}, {0xfffffe00, 0x00000100}, {7, 8}, {0x80000000, 0x80001000}, {1, 2}};

// libtins' reading of option bytes, behind a bare 20-byte TCP header.
Tins::TCP DissectWithLibtins(std::span<const uint8_t> options) {
  Bytes header(20 + options.size());
  header[12] = static_cast<uint8_t>(header.size() / 4 << 4);
  std::copy(options.begin(), options.end(), header.begin() + 20);
  return Tins::TCP(header.data(), static_cast<uint32_t>(header.size()));
}

TEST(TcpOptionsSack, LinuxAckLayout) {
  // A Linux ACK with timestamps and two SACK blocks (tcp_options_write): NOP NOP TS, NOP NOP SACK.
  const Bytes ack = {1,    1,    8,    10,   0,    0,    0,    5,    0, 0, 0, 6,  //
                     1,    1,    5,    18,                                        //
                     0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00,              //
                     0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x01, 0x00};
  EXPECT_EQ(Parse(ack), WithSack(TcpTimestamp{5, 6}, std::span(kBlocks).first(2)));
  const TcpOptions parsed = Parse(ack);
  ASSERT_EQ(parsed.sack().size(), 2u);
  EXPECT_EQ(parsed.sack()[1], kBlocks[1]);
}

TEST(TcpOptionsSack, ParsesWhatLibtinsCrafts) {
  for (bool with_timestamp : {false, true}) {
    for (size_t count = 1; count <= max_sack_blocks(with_timestamp); ++count) {
      Tins::TCP tcp(80, 40000);
      if (with_timestamp) tcp.timestamp(0xdeadbeef, 42);
      Tins::TCP::sack_type edges;
      for (const SackBlock& b : std::span(kBlocks).first(count)) {
        edges.push_back(b.start);
        edges.push_back(b.end);
      }
      tcp.sack(edges);
      const Bytes segment = tcp.serialize();
      const Bytes options(segment.begin() + 20, segment.begin() + tcp.header_size());
      std::optional<TcpTimestamp> ts;
      if (with_timestamp) ts = TcpTimestamp{0xdeadbeef, 42};
      EXPECT_EQ(Parse(options), WithSack(ts, std::span(kBlocks).first(count)))
          << testing::PrintToString(options);
    }
  }
}

TEST(TcpOptionsSack, MalformedLengthsIgnored) {
  // As Linux: at least one block and a whole number of them, else the option is skipped (and
  // parsing goes on: the SACK_PERM after each shows it).
  for (uint8_t length : {2, 3, 9, 11, 17, 25, 33}) {
    Bytes bytes = {5, length};
    bytes.resize(length, 0x11);
    bytes.insert(bytes.end(), {4, 2});
    const TcpOptions got = Parse(bytes);
    EXPECT_EQ(got.sack_block_count, 0) << int{length};
    EXPECT_TRUE(got.sack_permitted) << int{length};
  }
  // A SACK option running past the end stops parsing, as any option does.
  EXPECT_EQ(Parse({4, 2, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2}),
            Expect(std::nullopt, std::nullopt, true, std::nullopt));
}

TEST(TcpOptionsSack, AtMostFourBlocksAreRead) {
  // Five blocks need 42 bytes, more than a TCP header holds; Linux would read four of them.
  Bytes bytes = {5, 42};
  for (const SackBlock& b : kBlocks) {
    for (uint32_t edge : {b.start, b.end}) {
      for (int shift = 24; shift >= 0; shift -= 8)
        bytes.push_back(static_cast<uint8_t>(edge >> shift));
    }
  }
  EXPECT_EQ(Parse(bytes), WithSack(std::nullopt, std::span(kBlocks).first(4)));
}

TEST(TcpOptionsSack, RepeatedOptionReplacesTheEarlierOne) {
  const Bytes bytes = {5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,  //
                       5, 10, 0, 0, 0, 7, 0, 0, 0, 8};
  EXPECT_EQ(Parse(bytes), WithSack(std::nullopt, std::span(kBlocks).subspan(2, 1)));
}

TEST(TcpOptionsWrite, AckOptionsRoundTrip) {
  const TcpTimestamp ts{0x01020304, 0xfffffffe};
  for (bool with_timestamp : {false, true}) {
    for (size_t count = 0; count <= std::size(kBlocks); ++count) {
      SCOPED_TRACE(testing::Message() << "timestamp " << with_timestamp << " blocks " << count);
      std::optional<TcpTimestamp> timestamp;
      if (with_timestamp) timestamp = ts;
      // Guard bytes after the buffer catch writes past the returned length.
      Bytes buffer(kMaxAckOptionsLength + 8, 0xa5);
      const size_t n = write_ack_options(buffer.data(), timestamp, std::span(kBlocks).first(count));
      const size_t written = std::min(count, max_sack_blocks(with_timestamp));
      EXPECT_EQ(n, (with_timestamp ? 12u : 0u) + (written > 0 ? 4 + 8 * written : 0));
      EXPECT_EQ(n % 4, 0u);
      EXPECT_LE(n, kMaxAckOptionsLength);
      for (size_t i = n; i < buffer.size(); ++i) ASSERT_EQ(buffer[i], 0xa5) << i;
      const std::span<const uint8_t> options = std::span(buffer).first(n);
      // The blocks that do not fit are the last ones: the first is the one RFC 2018 requires.
      EXPECT_EQ(parse_tcp_options(options), WithSack(timestamp, std::span(kBlocks).first(written)));

      // libtins reads the same.
      const Tins::TCP tcp = DissectWithLibtins(options);
      if (with_timestamp) {
        EXPECT_EQ(tcp.timestamp(), std::make_pair(ts.value, ts.echo));
      } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::TSOPT), nullptr);
      }
      if (written > 0) {
        Tins::TCP::sack_type edges;
        for (const SackBlock& b : std::span(kBlocks).first(written)) {
          edges.push_back(b.start);
          edges.push_back(b.end);
        }
        EXPECT_EQ(tcp.sack(), edges);
      } else {
        EXPECT_EQ(tcp.search_option(Tins::TCP::SACK), nullptr);
      }
    }
  }
}

TEST(TcpOptionsWrite, AckOptionsLinuxLayoutAndFortyByteLimit) {
  // Exactly what Linux sends with a timestamp and one block.
  uint8_t out[kMaxAckOptionsLength];
  const SackBlock one[] = {{0x11223344, 0x55667788}};
  ASSERT_EQ(write_ack_options(out, TcpTimestamp{1, 2}, one), 24u);
  const Bytes linux_layout = {1, 1, 8, 10, 0,    0,    0,    1,    0,    0,    0,    2,
                              1, 1, 5, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
  EXPECT_EQ(Bytes(out, out + 24), linux_layout);

  // Timestamp and three blocks fill the 40 bytes; four blocks alone take 36.
  EXPECT_EQ(max_sack_blocks(true), 3u);
  EXPECT_EQ(max_sack_blocks(false), 4u);
  EXPECT_EQ(write_ack_options(out, TcpTimestamp{}, kBlocks), kMaxAckOptionsLength);
  EXPECT_EQ(write_ack_options(out, std::nullopt, kBlocks), 36u);
  // Nothing to write: no bytes, not even padding.
  EXPECT_EQ(write_ack_options(out, std::nullopt, {}), 0u);
  EXPECT_EQ(write_ack_options(out, TcpTimestamp{}, {}), kTimestampOptionLength);
}

}  // namespace
}  // namespace tapstack::header
