// Local port reservations. A reservation is a PortLease, a move-only handle that gives its port
// back when it is destroyed, so a port is released exactly once, by whoever holds the lease
// last: a bound or listening endpoint, the connection it became, or that connection's TIME-WAIT
// record. (The lease moves along; nothing else remembers who owns a port.)
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

namespace tapstack::tcp {

class PortTable;

class PortLease {
 public:
  PortLease() = default;
  PortLease(PortLease&& other) noexcept
      : table_(std::exchange(other.table_, nullptr)), port_(other.port_) {}
  PortLease& operator=(PortLease&& other) noexcept;
  PortLease(const PortLease&) = delete;
  PortLease& operator=(const PortLease&) = delete;
  ~PortLease() { reset(); }

  explicit operator bool() const { return table_ != nullptr; }
  uint16_t port() const { return port_; }
  void reset();

 private:
  friend class PortTable;
  PortLease(PortTable* table, uint16_t port) : table_(table), port_(port) {}

  PortTable* table_ = nullptr;
  uint16_t port_ = 0;
};

class PortTable {
 public:
  // bind(): the port for one endpoint alone; nothing if anyone holds it.
  std::optional<PortLease> take_exclusive(uint16_t port);
  // connect() from an ephemeral port: shared by connections to different peers (their 4-tuples
  // tell them apart), never with an exclusive holder. Nothing if the port is held exclusively.
  std::optional<PortLease> take_shared(uint16_t port);
  bool in_use(uint16_t port) const { return holders_.contains(port); }
  bool exclusive(uint16_t port) const;
  size_t size() const { return holders_.size(); }

 private:
  friend class PortLease;
  static constexpr uint32_t kExclusive = ~uint32_t{0};
  void release(uint16_t port);

  std::unordered_map<uint16_t, uint32_t> holders_;  // port -> shared leases, or kExclusive
};

}  // namespace tapstack::tcp
