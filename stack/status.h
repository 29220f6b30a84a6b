// Results of engine commands. The codes are the canonical ones gRPC uses, so the control plane
// maps them one to one; the message says what to do about it.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tapstack {

enum class ErrorCode {
  kOk,
  kInvalidArgument,     // bad address, port or backlog
  kNotFound,            // unknown endpoint id
  kAlreadyExists,       // address and port in use
  kFailedPrecondition,  // the endpoint is in the wrong state for the call
  kResourceExhausted,   // endpoint table or port range exhausted
  kUnavailable,         // connection refused or reset, no route
  kDeadlineExceeded,    // handshake timed out
  kWouldBlock,          // nothing to accept yet (the caller waits and retries)
};

struct Status {
  ErrorCode code = ErrorCode::kOk;
  std::string message;

  static Status ok() { return {}; }
  bool is_ok() const { return code == ErrorCode::kOk; }
};

inline Status error(ErrorCode code, std::string message) {
  return {code, std::move(message)};
}

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit, like std::expected
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return v_.index() == 0; }
  const T& value() const { return std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return is_ok() ? Status::ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tapstack
