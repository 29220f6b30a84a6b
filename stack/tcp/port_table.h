// Local port reservations. A reservation is a PortLease, a move-only handle that gives its port
// back when it is destroyed, so a port is released exactly once, by whoever holds the lease
// last: a bound or listening endpoint, the connection it became, or that connection's TIME-WAIT
// record. (The lease moves along; nothing else remembers who owns a port.)
//
// An exclusive lease (bind) holds its port for a set of families, as Linux's bind conflicts
// do: 0.0.0.0:80 and [::]:80 v6-only coexist, [::]:80 dual-stack excludes both.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>

#include "stack/header/ip_address.h"

namespace tapstack::tcp {

class PortTable;

class PortLease {
 public:
  PortLease() = default;
  PortLease(PortLease&& other) noexcept
      : table_(std::exchange(other.table_, nullptr)),
        port_(other.port_),
        families_(other.families_) {}
  PortLease& operator=(PortLease&& other) noexcept;
  PortLease(const PortLease&) = delete;
  PortLease& operator=(const PortLease&) = delete;
  ~PortLease() { reset(); }

  explicit operator bool() const { return table_ != nullptr; }
  uint16_t port() const { return port_; }
  // What an exclusive lease holds the port for; a shared lease's are both (a connection's
  // tuple tells it apart whatever the family).
  IpFamilies families() const { return families_.empty() ? IpFamilies::both() : families_; }
  void reset();

 private:
  friend class PortTable;
  PortLease(PortTable* table, uint16_t port, IpFamilies families)
      : table_(table), port_(port), families_(families) {}

  PortTable* table_ = nullptr;
  uint16_t port_ = 0;
  IpFamilies families_;  // empty: shared
};

class PortTable {
 public:
  // bind(): the port for one endpoint alone in `families`; nothing if a shared lease or an
  // exclusive one for any of them holds it.
  std::optional<PortLease> take_exclusive(uint16_t port, IpFamilies families);
  // connect() from an ephemeral port: shared by connections to different peers (their 4-tuples
  // tell them apart), never with an exclusive holder. Nothing if the port is held exclusively.
  std::optional<PortLease> take_shared(uint16_t port);
  bool in_use(uint16_t port) const { return holders_.contains(port); }
  bool exclusive(uint16_t port) const;
  size_t size() const { return holders_.size(); }

 private:
  friend class PortLease;
  struct Holders {
    uint32_t shared = 0;
    IpFamilies exclusive;  // the families exclusive leases hold
  };
  void release(uint16_t port, IpFamilies exclusive);

  std::unordered_map<uint16_t, Holders> holders_;
};

}  // namespace tapstack::tcp
