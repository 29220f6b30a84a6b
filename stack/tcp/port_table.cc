#include "stack/tcp/port_table.h"

namespace tapstack::tcp {

PortLease& PortLease::operator=(PortLease&& other) noexcept {
  if (this != &other) {
    reset();
    table_ = std::exchange(other.table_, nullptr);
    port_ = other.port_;
    families_ = other.families_;
  }
  return *this;
}

void PortLease::reset() {
  if (table_) std::exchange(table_, nullptr)->release(port_, families_);
}

std::optional<PortLease> PortTable::take_exclusive(uint16_t port, IpFamilies families) {
  Holders& h = holders_[port];
  if (h.shared || h.exclusive.overlaps(families)) return std::nullopt;
  h.exclusive = h.exclusive.with(families);
  return PortLease(this, port, families);
}

std::optional<PortLease> PortTable::take_shared(uint16_t port) {
  Holders& h = holders_[port];
  if (!h.exclusive.empty()) return std::nullopt;
  ++h.shared;
  return PortLease(this, port, {});
}

bool PortTable::exclusive(uint16_t port) const {
  auto it = holders_.find(port);
  return it != holders_.end() && !it->second.exclusive.empty();
}

void PortTable::release(uint16_t port, IpFamilies exclusive) {
  auto it = holders_.find(port);
  if (it == holders_.end()) return;
  Holders& h = it->second;
  if (exclusive.empty()) {
    --h.shared;
  } else {
    h.exclusive = h.exclusive.without(exclusive);
  }
  if (h.shared == 0 && h.exclusive.empty()) holders_.erase(it);
}

}  // namespace tapstack::tcp
