#include "net/sctp_loop.hpp"

namespace px::net::detail {

sctp_loop::sctp_loop(size_t max_message) : max_message_(max_message) {
}

sctp_loop::~sctp_loop() = default;

void sctp_loop::stop() {
  if (!thread_.joinable())
    return;
  post([this] { running_ = false; });
  thread_.join();
}

void sctp_loop::send(assoc_id id, std::vector<uint8_t> msg) {
  post([this, id, m = std::move(msg)]() mutable {
    if (auto a = find(id)) {
      a->outq.push_back(std::move(m));
      flush(*a);
    }
  });
}

void sctp_loop::close(assoc_id id) {
  post([this, id] {
    if (auto a = find(id)) {
      a->close_after = true;
      flush(*a);
    }
  });
}

void sctp_loop::on_bytes(assoc& a, const uint8_t* data, size_t n, bool eor) {
  if (!a.oversized) {
    if (a.partial.size() + n > max_message_) {
      a.oversized = true;
      a.partial.clear();
      a.partial.shrink_to_fit();
    } else {
      a.partial.insert(a.partial.end(), data, data + n);
    }
  }
  if (!eor)
    return;
  auto msg = std::move(a.partial);
  a.partial.clear();
  bool oversized = a.oversized;
  a.oversized = false;
  a.events->on_message(a.id, std::move(msg), oversized);
}

sctp_loop::assoc& sctp_loop::add_assoc(std::shared_ptr<sctp_events> ev,
                                       const ip_endpoint& peer) {
  auto id = next_id_++;
  auto& a = assocs_[id];
  a.id = id;
  a.events = std::move(ev);
  a.events->on_assoc_up(id, peer);
  return a;
}

void sctp_loop::remove_assoc(assoc_id id) {
  auto i = assocs_.find(id);
  if (i == assocs_.end())
    return;
  auto ev = i->second.events;
  assocs_.erase(i);
  ev->on_assoc_down(id);
}

sctp_loop::assoc* sctp_loop::find(assoc_id id) {
  auto i = assocs_.find(id);
  return i != assocs_.end() ? &i->second : nullptr;
}

} // namespace px::net::detail
