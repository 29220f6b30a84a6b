// Bounds the gRPC calls in flight, per client and in total, so that no client (and no crowd of
// them) can hold more of the daemon's memory and the loop's attention than the operator allows.
// A call takes a slot when it starts and gives it back when it ends (Slot is RAII); a call that
// finds no slot is answered RESOURCE_EXHAUSTED with the limit and the flag that sets it.
//
// A client is its verified certificate subject under mutual TLS, else its IP address (every
// channel and port from one host is one client), else "unix" for every unix-socket peer (gRPC
// 1.51 does not expose the socket's peer credentials).
//
// When a burst of calls has ended (in flight down to a quarter of a peak of at least 128), the
// limiter has the freed heap given back to the kernel (HeapTrimmer, half a second later, once
// gRPC has freed the calls' state): gRPC allocates each call's
// state on whichever of its threads runs it, and glibc keeps what those threads' arenas freed,
// so without it 1,000 cancelled calls left ~20 MB resident for good (measured; see README).
#pragma once

#include <grpcpp/server_context.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/heap_trimmer.h"

namespace tapstack::server {

class CallLimiter {
 public:
  CallLimiter(size_t per_client, size_t total) : per_client_(per_client), total_(total) {}

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    // OK when a slot was taken; RESOURCE_EXHAUSTED (naming the limit and flag) otherwise.
    const grpc::Status& status() const { return status_; }
    bool ok() const { return status_.ok(); }
    // No slot, answering `status`.
    static Slot refused(grpc::Status status) {
      Slot slot;
      slot.status_ = std::move(status);
      return slot;
    }

   private:
    friend class CallLimiter;
    void release();
    CallLimiter* owner_ = nullptr;
    std::string client_;
    grpc::Status status_;
  };

  Slot admit(const grpc::ServerContextBase& ctx);
  Slot admit(const std::string& client);

  size_t in_flight() const;

  // The client a call comes from (see the header comment).
  static std::string client_of(const grpc::ServerContextBase& ctx);

 private:
  void give_back(const std::string& client);

  const size_t per_client_;
  const size_t total_;
  mutable std::mutex mutex_;
  size_t in_flight_ = 0;
  size_t peak_ = 0;            // most calls in flight since memory was last given back
  bool trim_at_idle_ = false;  // a burst ended with calls left: trim again when none is
  std::unordered_map<std::string, size_t> by_client_;  // only clients with calls in flight
  HeapTrimmer trimmer_{milliseconds(500)};
};

}  // namespace tapstack::server
