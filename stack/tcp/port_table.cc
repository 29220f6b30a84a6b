#include "stack/tcp/port_table.h"

namespace tapstack::tcp {

PortLease& PortLease::operator=(PortLease&& other) noexcept {
  if (this != &other) {
    reset();
    table_ = std::exchange(other.table_, nullptr);
    port_ = other.port_;
  }
  return *this;
}

void PortLease::reset() {
  if (table_) std::exchange(table_, nullptr)->release(port_);
}

std::optional<PortLease> PortTable::take_exclusive(uint16_t port) {
  auto [it, inserted] = holders_.try_emplace(port, kExclusive);
  if (!inserted) return std::nullopt;
  return PortLease(this, port);
}

std::optional<PortLease> PortTable::take_shared(uint16_t port) {
  uint32_t& holders = holders_[port];
  if (holders == kExclusive) return std::nullopt;
  ++holders;
  return PortLease(this, port);
}

bool PortTable::exclusive(uint16_t port) const {
  auto it = holders_.find(port);
  return it != holders_.end() && it->second == kExclusive;
}

void PortTable::release(uint16_t port) {
  auto it = holders_.find(port);
  if (it == holders_.end()) return;
  if (it->second == kExclusive || --it->second == 0) holders_.erase(it);
}

}  // namespace tapstack::tcp
