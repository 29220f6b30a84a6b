#include "server/admission_share.h"

namespace tapstack::server {
namespace {

uint32_t ceil_div(uint32_t x, size_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(x) + n - 1) / n);
}

}  // namespace

tcp::AdmissionPolicy admission_share(const tcp::AdmissionPolicy& policy, size_t loops) {
  tcp::AdmissionPolicy share = policy;
  if (loops <= 1) return share;
  if (share.syn_rate) {
    share.syn_rate->per_second /= static_cast<double>(loops);
    share.syn_rate->burst = ceil_div(share.syn_rate->burst, loops);
  }
  share.max_half_open = ceil_div(share.max_half_open, loops);  // 0 (no cap) stays 0
  share.max_connections = ceil_div(share.max_connections, loops);
  return share;
}

}  // namespace tapstack::server
