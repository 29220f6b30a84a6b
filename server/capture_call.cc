#include "server/capture_call.h"

#include <algorithm>
#include <atomic>
#include <random>

namespace tapstack::server {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);
// Frame bytes per message at most, all loops together (gRPC's default limit is 4 MiB).
constexpr size_t kBatchBytes = 1 << 20;

std::atomic<uint64_t> next_capture_id{1};

std::chrono::steady_clock::time_point deadline_after(Duration duration) {
  if (duration == Duration::zero()) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() + duration;
}

}  // namespace

CaptureCall::CaptureCall(Backend& backend, CaptureLimits& limits, CallLimiter::Slot slot,
                         CaptureLimits::Reservation reservation, const CaptureOptions& options)
    : backend_(backend),
      limits_(limits),
      slot_(std::move(slot)),
      reservation_(std::move(reservation)),
      options_(options),
      id_(next_capture_id.fetch_add(1, std::memory_order_relaxed)),
      deadline_(deadline_after(options.duration)) {
  for (size_t k = 0; k < backend_.shards.size(); ++k) {
    rings_.push_back(std::make_shared<capture::CaptureRing>(options_.ring_bytes));
  }
}

CaptureCall* CaptureCall::start(Backend& backend, CaptureLimits& limits, CallLimiter::Slot slot,
                                CaptureLimits::Reservation reservation,
                                const CaptureOptions& options) {
  auto call = std::make_shared<CaptureCall>(backend, limits, std::move(slot),
                                            std::move(reservation), options);
  call->self_ = call;
  const uint64_t seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  for (Shard& shard : backend.shards) {
    shard.loop.call([&call, &shard, seed](Engine& engine) {
      engine.captures().attach(call->id_, call->options_.filter, call->rings_[shard.index], seed);
    });
  }
  call->StartSendInitialMetadata();  // tells the client the capture is in place
  call->arm_deadline();
  call->pump();
  return call.get();
}

void CaptureCall::arm_deadline() {
  if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
  std::lock_guard lock(mutex_);
  std::weak_ptr<CaptureCall> weak = weak_from_this();
  deadline_alarm_ = std::make_unique<grpc::Alarm>();
  deadline_alarm_->Set(
      std::chrono::system_clock::now() + (deadline_ - std::chrono::steady_clock::now()),
      [weak](bool fired) {
        if (!fired) return;
        if (auto call = weak.lock()) call->expire();
      });
}

void CaptureCall::expire() {
  std::unique_lock lock(mutex_);
  if (finished_) return;
  if (!writing_) {
    lock.unlock();
    pump();  // sends what is left with end DURATION
    return;
  }
  // A write still waits on a reader that stopped reading: the duration ends the capture
  // anyway, so that a stalled client cannot hold its slot and ring for ever.
  finished_ = true;
  detach();
  Finish(grpc::Status::OK);
}

void CaptureCall::pump() {
  std::unique_lock lock(mutex_);
  if (writing_ || finished_) return;
  batch_.clear();
  uint64_t lost = 0;
  for (auto& ring : rings_) lost += ring->lost();
  // One byte budget for the message, rings taken in turn from a different one each time, so a
  // message stays under gRPC's 4 MiB whatever the number of loops (a ring may overshoot it by
  // one frame) and no loop waits behind the others.
  size_t left = kBatchBytes;
  for (size_t i = 0; i < rings_.size() && left > 0; ++i) {
    const size_t from = batch_.size();
    rings_[(first_ring_ + i) % rings_.size()]->drain(batch_, left);
    for (size_t k = from; k < batch_.size(); ++k) left -= std::min(left, batch_[k].bytes.size());
  }
  first_ring_ = (first_ring_ + 1) % rings_.size();
  // Each ring is in order already; across loops, order by the time each frame was copied
  // (within the message: a frame a loop copies while another's ring is drained may come in
  // the next one).
  if (rings_.size() > 1) {
    std::stable_sort(batch_.begin(), batch_.end(),
                     [](const auto& a, const auto& b) { return a.timestamp_ns < b.timestamp_ns; });
  }
  v1::CaptureEnd end = v1::CAPTURE_END_NONE;
  if (options_.count && sent_ + batch_.size() >= options_.count) {
    batch_.resize(options_.count - sent_);
    end = v1::CAPTURE_END_COUNT;
  } else if (std::chrono::steady_clock::now() >= deadline_) {
    end = v1::CAPTURE_END_DURATION;
  } else if (backend_.draining.load()) {
    end = v1::CAPTURE_END_SHUTDOWN;
  }
  // The first message goes at once, empty or not: it tells the client the capture is in place.
  if (started_ && batch_.empty() && lost == lost_reported_ && end == v1::CAPTURE_END_NONE) {
    std::weak_ptr<CaptureCall> weak = weak_from_this();
    // A fresh alarm each time: one that fired may still be returning from its callback.
    alarm_ = std::make_unique<grpc::Alarm>();
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(kPollInterval);
    if (deadline_ != std::chrono::steady_clock::time_point::max()) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                deadline_ - std::chrono::steady_clock::now()));
    }
    alarm_->Set(std::chrono::system_clock::now() + wait, [weak](bool fired) {
      if (!fired) return;
      if (auto call = weak.lock()) call->pump();
    });
    return;
  }
  limits_.count(batch_.size(), lost - lost_reported_);
  response_.Clear();
  for (const capture::Frame& f : batch_) {
    v1::CapturedFrame* out = response_.add_frames();
    out->set_timestamp_unix_ns(f.timestamp_ns);
    out->set_direction(f.direction == capture::Direction::kSent ? v1::CAPTURE_DIRECTION_SENT
                                                                : v1::CAPTURE_DIRECTION_RECEIVED);
    out->set_original_length(static_cast<uint32_t>(f.bytes.size()));
    out->set_data(f.bytes.data(), f.bytes.size());
  }
  response_.set_frames_lost(lost);
  response_.set_end(end);
  sent_ += batch_.size();
  lost_reported_ = lost;
  writing_ = true;
  started_ = true;
  ending_ = end != v1::CAPTURE_END_NONE;
  if (ending_) detach();  // nothing more is wanted from the loops
  // Under the lock: a cancellation (OnCancel) between here and the write would Finish, and the
  // call could be done and freed before StartWrite. The write's completion never runs inline.
  StartWrite(&response_);
}

void CaptureCall::OnWriteDone(bool ok) {
  std::unique_lock lock(mutex_);
  writing_ = false;
  if (!ok || ending_) {
    if (std::exchange(finished_, true)) return;
    const bool detached = ending_;
    lock.unlock();
    if (!detached) detach();
    Finish(ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    return;
  }
  lock.unlock();
  pump();
}

void CaptureCall::OnCancel() {
  {
    std::lock_guard lock(mutex_);
    if (std::exchange(finished_, true)) return;
  }
  detach();
  Finish({grpc::StatusCode::CANCELLED, "cancelled by the client"});
}

void CaptureCall::detach() {
  for (Shard& shard : backend_.shards) {
    shard.loop.post([id = id_](Engine& engine) { engine.captures().detach(id); });
  }
}

void CaptureCall::OnDone() {
  {
    std::lock_guard lock(mutex_);
    alarm_.reset();
    deadline_alarm_.reset();
  }
  slot_ = {};
  reservation_ = {};
  auto last = std::move(self_);  // may destroy this; nothing touches it afterwards
}

}  // namespace tapstack::server
