#include "server/data_wait.h"

namespace tapstack::server {

class DataWait::Tries final : public DataWaiter, public std::enable_shared_from_this<Tries> {
 public:
  using Done = Completion<grpc::Status>;

  Tries(Shard& shard, EndpointId id, Attempt attempt, std::function<void(grpc::Status)> finish,
        std::function<void(WaitEnd)> gave_up)
      : shard_(shard),
        id_(id),
        attempt_(std::move(attempt)),
        done_(std::move(finish), std::move(gave_up)) {}

  void retry(Engine& engine) override {
    auto outcome = done_.try_complete([&] {
      std::optional<grpc::Status> status = attempt_(engine, tried_);
      tried_ = true;
      return status;
    });
    if (outcome == Done::Outcome::kNotReady) shard_.hub.wait_data(id_, shared_from_this());
  }
  void end(const grpc::Status& status) override { done_.complete(status); }
  bool waiting() const override { return done_.waiting(); }

  // Any thread.
  void give_up(WaitEnd why) { done_.give_up(why); }
  Shard& shard() { return shard_; }
  EndpointId id() const { return id_; }

 private:
  Shard& shard_;
  const EndpointId id_;
  const Attempt attempt_;
  Done done_;
  bool tried_ = false;  // loop thread
};

DataWait::DataWait(CallLimiter::Slot slot, GiveUp give_up)
    : slot_(std::move(slot)), give_up_(std::move(give_up)) {}

DataWait* DataWait::start(const grpc::CallbackServerContext& ctx, CallLimiter::Slot slot,
                          Shards& shards, EndpointId id, Attempt attempt, GiveUp give_up) {
  auto* call = new DataWait(std::move(slot), std::move(give_up));
  Shard& shard = shards.of(id);
  // Whichever of the two callbacks wins runs once; after it, gRPC may destroy the reactor.
  call->tries_ = std::make_shared<Tries>(
      shard, id, std::move(attempt), [call](grpc::Status status) { call->Finish(status); },
      [call, &shard, id](WaitEnd why) {
        call->Finish(call->give_up_(why));
        shard.loop.post([&hub = shard.hub, id](Engine&) { hub.prune_data(id); });
      });
  if (auto at = give_up_at(ctx)) {
    // The alarm holds the tries, not the reactor: it may fire after the call is gone.
    call->deadline_.Set(*at, [tries = call->tries_](bool fired) {
      if (fired) tries->give_up(WaitEnd::kDeadline);
    });
  }
  shard.loop.post([tries = call->tries_](Engine& engine) { tries->retry(engine); });
  return call;
}

void DataWait::OnCancel() {
  tries_->give_up(WaitEnd::kCancelled);
}

}  // namespace tapstack::server
