#include "net/sctp_loop.hpp"

#include <vector>

#include "net/log.hpp"

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
    auto a = find(id);
    if (!a || a->close_after)
      return;
    if (a->unanswered > 0)
      --a->unanswered;
    a->queued_bytes += m.size();
    a->outq.push_back(std::move(m));
    after_command(id);
  });
}

void sctp_loop::close(assoc_id id) {
  post([this, id] {
    auto a = find(id);
    if (!a || a->close_after)
      return;
    a->close_after = true;
    a->close_by = clock::now() + limits_.close_grace;
    after_command(id);
  });
}

void sctp_loop::after_command(assoc_id id) {
  if (auto a = find(id))
    flush(*a);
  if (auto a = find(id); a && wants_read(*a))
    resume(id);
}

bool sctp_loop::wants_read(const assoc& a) const {
  // Closing: read (and discard) until the peer's end of the association.
  return a.close_after
         || (a.unanswered < limits_.max_unanswered
             && a.outq.size() < limits_.max_queued
             && a.queued_bytes <= limits_.max_queued_bytes);
}

void sctp_loop::flush(assoc& a) {
  auto id = a.id;
  while (!a.outq.empty()) {
    auto r = write_one(a, a.outq.front());
    if (r == write_result::again)
      return; // the socket's writability brings us back
    if (r == write_result::failed) {
      drop(id, true);
      return;
    }
    a.queued_bytes -= a.outq.front().size();
    a.outq.pop_front();
  }
  if (a.close_after && !a.shut) {
    a.shut = true;
    shutdown_write(a);
  }
}

void sctp_loop::expire_closes() {
  auto now = clock::now();
  std::vector<assoc_id> late;
  for (auto& kv : assocs_)
    if (kv.second.close_after && now >= kv.second.close_by)
      late.push_back(kv.first);
  for (auto id : late)
    drop(id, true);
}

void sctp_loop::drop_all() {
  std::vector<assoc_id> ids;
  for (auto& kv : assocs_)
    ids.push_back(kv.first);
  for (auto id : ids)
    drop(id, true);
}

void sctp_loop::on_bytes(assoc& a, const uint8_t* data, size_t n, bool eor) {
  if (a.close_after)
    return; // closing: nobody listens any more
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
  ++a.unanswered;
  a.events->on_message(a.id, std::move(msg), oversized);
}

bool sctp_loop::admit(const ip_endpoint& peer) {
  source_key key{peer.v6, peer.bytes};
  auto i = per_source_.find(key);
  size_t from_peer = i != per_source_.end() ? i->second : 0;
  if (assocs_.size() < limits_.max_assocs
      && from_peer < limits_.max_assocs_per_source)
    return true;
  ++refusals_;
  auto now = clock::now();
  if (now - last_refusal_log_ >= std::chrono::seconds{10}) {
    log::warning("admin association from " + peer.to_string() + " refused: "
                 + std::to_string(from_peer) + " open from this address (cap "
                 + std::to_string(limits_.max_assocs_per_source) + "), "
                 + std::to_string(assocs_.size()) + " in all (cap "
                 + std::to_string(limits_.max_assocs) + "); "
                 + std::to_string(refusals_) + " refused since the last such line");
    last_refusal_log_ = now;
    refusals_ = 0;
  }
  return false;
}

sctp_loop::assoc& sctp_loop::add_assoc(std::shared_ptr<sctp_events> ev,
                                       const ip_endpoint& peer) {
  auto id = next_id_++;
  auto& a = assocs_[id];
  a.id = id;
  a.peer = peer;
  a.events = std::move(ev);
  ++per_source_[source_key{peer.v6, peer.bytes}];
  a.events->on_assoc_up(id, peer);
  return a;
}

void sctp_loop::remove_assoc(assoc_id id) {
  auto i = assocs_.find(id);
  if (i == assocs_.end())
    return;
  auto ev = i->second.events;
  auto key = source_key{i->second.peer.v6, i->second.peer.bytes};
  assocs_.erase(i);
  if (auto j = per_source_.find(key); j != per_source_.end() && --j->second == 0)
    per_source_.erase(j);
  ev->on_assoc_down(id);
}

sctp_loop::assoc* sctp_loop::find(assoc_id id) {
  auto i = assocs_.find(id);
  return i != assocs_.end() ? &i->second : nullptr;
}

} // namespace px::net::detail
