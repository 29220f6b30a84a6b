#include "stack/tcp/sack_scoreboard.h"

#include <algorithm>

#include "stack/tcp/seqnum.h"

namespace tapstack::tcp {

SackScoreboard::SackScoreboard(uint32_t mss, uint32_t snd_una)
    : mss_(std::max<uint32_t>(mss, 1)), snd_una_(snd_una), high_rxt_(snd_una) {}

void SackScoreboard::on_ack(uint32_t snd_una) {
  if (!seq_gt(snd_una, snd_una_)) return;
  for (std::vector<SackBlock>* v : {&ranges_, &marked_}) {
    std::erase_if(*v, [&](const SackBlock& r) { return seq_le(r.end, snd_una); });
    if (!v->empty() && seq_lt(v->front().start, snd_una)) v->front().start = snd_una;
  }
  if (seq_lt(high_rxt_, snd_una)) high_rxt_ = snd_una;
  snd_una_ = snd_una;
  sacked_bytes_ = sacked_in(snd_una_, high_sacked());
}

SackUpdate SackScoreboard::on_sack(std::span<const SackBlock> blocks, uint32_t ack,
                                   uint32_t high_data) {
  SackUpdate update;
  const auto valid = [](const SackBlock& b) { return seq_lt(b.start, b.end); };
  for (size_t i = 0; i < blocks.size(); ++i) {
    const SackBlock& block = blocks[i];
    if (!valid(block)) {
      ++update.ignored;
      continue;
    }
    // RFC 2883 §4: only the first block can be a D-SACK, below the cumulative ACK of its own
    // segment (Linux's tcp_check_dsack): an old ACK's block between its ACK and SND.UNA is a
    // stale SACK of data acknowledged since, not a duplicate. The caller judges whether one far
    // below SND.UNA is plausible.
    if (i == 0 && (seq_le(block.end, ack) ||
                   (blocks.size() > 1 && valid(blocks[1]) && seq_le(blocks[1].start, block.start) &&
                    seq_le(block.end, blocks[1].end)))) {
      update.dsack = block;
      continue;
    }
    if (seq_lt(block.start, snd_una_) || seq_gt(block.end, high_data)) {
      ++update.ignored;
      continue;
    }
    insert(ranges_, block);
  }
  const uint32_t before = sacked_bytes_;
  sacked_bytes_ = sacked_in(snd_una_, high_sacked());
  update.newly_sacked = sacked_bytes_ > before ? sacked_bytes_ - before : 0;
  return update;
}

void SackScoreboard::insert(std::vector<SackBlock>& ranges, SackBlock block) {
  uint32_t lo = offset(block.start);
  uint32_t hi = offset(block.end);
  auto it = ranges.begin();
  while (it != ranges.end() && offset(it->end) < lo) ++it;
  const auto first = it;
  // Merge with every range it overlaps or touches, so that ranges stay disjoint and apart.
  for (; it != ranges.end() && offset(it->start) <= hi; ++it) {
    lo = std::min(lo, offset(it->start));
    hi = std::max(hi, offset(it->end));
  }
  it = ranges.erase(first, it);
  ranges.insert(it, SackBlock{snd_una_ + lo, snd_una_ + hi});
  if (ranges.size() > kMaxRanges) ranges.pop_back();
}

void SackScoreboard::begin_retransmission() {
  high_rxt_ = snd_una_;
}

void SackScoreboard::on_retransmit(uint32_t begin, uint32_t end) {
  if (seq_gt(end, high_rxt_)) high_rxt_ = end;
  if (marked_.empty()) return;
  // Cut [begin, end) out of the marks; a mark it falls inside splits in two.
  std::vector<SackBlock> kept;
  for (const SackBlock& m : marked_) {
    if (seq_le(m.end, begin) || seq_ge(m.start, end)) {
      kept.push_back(m);
      continue;
    }
    if (seq_lt(m.start, begin)) kept.push_back({m.start, begin});
    if (seq_gt(m.end, end)) kept.push_back({end, m.end});
  }
  marked_ = std::move(kept);
}

void SackScoreboard::mark_lost(uint32_t begin, uint32_t end) {
  if (seq_lt(begin, snd_una_)) begin = snd_una_;
  if (seq_lt(begin, end)) insert(marked_, {begin, end});
}

void SackScoreboard::clear() {
  ranges_.clear();
  marked_.clear();
  sacked_bytes_ = 0;
}

bool SackScoreboard::is_sacked(uint32_t seq) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const SackBlock& r) { return seq_in_range(seq, r.start, r.end); });
}

bool SackScoreboard::is_lost(uint32_t seq) const {
  const bool marked = std::any_of(marked_.begin(), marked_.end(), [&](const SackBlock& m) {
    return seq_in_range(seq, m.start, m.end);
  });
  return seq_ge(seq, snd_una_) && (seq_lt(seq, lost_below()) || marked) && !is_sacked(seq);
}

std::optional<SackBlock> SackScoreboard::first_lost() const {
  std::optional<SackBlock> lost = first_hole(high_rxt_, lost_below());
  for (const SackBlock& m : marked_) {
    const std::optional<SackBlock> hole = first_hole(m.start, m.end);
    if (!hole) continue;  // SACKed since it was marked
    if (!lost || offset(hole->start) < offset(lost->start)) lost = hole;
    break;
  }
  return lost;
}

uint32_t SackScoreboard::lost_below() const {
  uint32_t count = 0;
  uint64_t bytes = 0;
  for (auto r = ranges_.rbegin(); r != ranges_.rend(); ++r) {
    ++count;
    bytes += r->end - r->start;
    if (count >= kDupThresh || bytes > uint64_t{kDupThresh - 1} * mss_) return r->start;
  }
  return snd_una_;
}

uint32_t SackScoreboard::high_sacked() const {
  return ranges_.empty() ? snd_una_ : ranges_.back().end;
}

uint32_t SackScoreboard::sacked_in(uint32_t begin, uint32_t end) const {
  const uint32_t b = offset(begin);
  const uint32_t e = offset(end);
  uint32_t sum = 0;
  for (const SackBlock& r : ranges_) {
    const uint32_t lo = std::max(b, offset(r.start));
    const uint32_t hi = std::min(e, offset(r.end));
    if (lo < hi) sum += hi - lo;
  }
  return sum;
}

uint32_t SackScoreboard::marked_in(uint32_t begin, uint32_t end) const {
  uint32_t sum = 0;
  for (const SackBlock& m : marked_) {
    const uint32_t lo = std::max(offset(begin), offset(m.start));
    const uint32_t hi = std::min(offset(end), offset(m.end));
    if (lo < hi) sum += (hi - lo) - sacked_in(snd_una_ + lo, snd_una_ + hi);
  }
  return sum;
}

std::optional<SackBlock> SackScoreboard::first_hole(uint32_t from, uint32_t limit) const {
  uint32_t start = from;
  uint32_t hole_end = limit;
  for (const SackBlock& r : ranges_) {
    if (offset(r.end) <= offset(start)) continue;
    if (offset(r.start) <= offset(start)) {
      start = r.end;  // `start` was SACKed: the hole begins after this range
      continue;
    }
    if (offset(r.start) < offset(limit)) hole_end = r.start;
    break;
  }
  if (offset(start) >= offset(limit)) return std::nullopt;
  const uint32_t end = offset(hole_end) - offset(start) > mss_ ? start + mss_ : hole_end;
  return SackBlock{start, end};
}

NextSegment SackScoreboard::next_seg(uint32_t high_data, uint32_t sendable_new) const {
  using Kind = NextSegment::Kind;
  // Rule 1: the first lost hole above what was already retransmitted.
  if (auto hole = first_lost()) return {Kind::kLost, hole->start, hole->end};
  // Rule 2: new data, if there is any and the peer's window takes it.
  if (sendable_new > 0) {
    return {Kind::kNewData, high_data, high_data + std::min(sendable_new, mss_)};
  }
  // Rule 3: a hole below the highest SACKed byte that is not deemed lost yet.
  if (auto hole = first_hole(high_rxt_, high_sacked())) {
    return {Kind::kUnsacked, hole->start, hole->end};
  }
  return {};
}

uint32_t SackScoreboard::pipe(uint32_t high_data) const {
  if (seq_le(high_data, snd_una_)) return 0;
  const uint32_t lost = lost_below();
  // (a) unSACKed and not lost: the bytes from the lost boundary up to HighData.
  // Bytes RACK marked are lost wherever they lie, and if below HighRxt, their retransmission
  // was lost too: they count neither way.
  const uint32_t not_lost = offset(lost) < offset(high_data)
                                ? offset(high_data) - offset(lost) - sacked_in(lost, high_data) -
                                      marked_in(lost, high_data)
                                : 0;
  // (b) unSACKed and retransmitted: the bytes below HighRxt.
  const uint32_t rxt_end = offset(high_rxt_) < offset(high_data) ? high_rxt_ : high_data;
  const uint32_t retransmitted =
      offset(rxt_end) - sacked_in(snd_una_, rxt_end) - marked_in(snd_una_, rxt_end);
  return not_lost + retransmitted;
}

}  // namespace tapstack::tcp
