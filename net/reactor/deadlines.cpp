#include "net/reactor/deadlines.hpp"

namespace px::net {

void deadlines::arm(time_point when, conn_id id, uint32_t gen, deadline_kind kind) {
  heap_.push(deadline{when, id, gen, kind});
}

std::optional<time_point> deadlines::next() const {
  if (heap_.empty())
    return std::nullopt;
  return heap_.top().when;
}

void deadlines::take_due(time_point now, std::vector<deadline>& out) {
  while (!heap_.empty() && heap_.top().when <= now) {
    out.push_back(heap_.top());
    heap_.pop();
  }
}

void deadlines::push_back(idle_node& n) {
  n.linked = true;
  n.prev = tail_;
  n.next = nullptr;
  if (tail_)
    tail_->next = &n;
  else
    head_ = &n;
  tail_ = &n;
}

void deadlines::idle_start(idle_node& n, time_point now,
                           std::chrono::milliseconds limit) {
  idle_stop(n);
  n.limit = limit;
  n.last_active = now;
  if (limit.count() > 0)
    push_back(n); // no limit: never idles out, costs nothing
}

void deadlines::idle_touch(idle_node& n, time_point now) {
  n.last_active = now;
  if (!n.linked || tail_ == &n)
    return;
  idle_stop(n);
  push_back(n);
}

void deadlines::idle_stop(idle_node& n) {
  if (!n.linked)
    return;
  if (n.prev)
    n.prev->next = n.next;
  else
    head_ = n.next;
  if (n.next)
    n.next->prev = n.prev;
  else
    tail_ = n.prev;
  n.linked = false;
  n.prev = n.next = nullptr;
}

void deadlines::take_idle(time_point now, std::vector<conn_id>& out) {
  // In order of activity: the first connection still within its limit ends
  // the sweep (limits differ only after a settings change).
  while (head_ && now - head_->last_active >= head_->limit) {
    auto n = head_;
    idle_stop(*n);
    out.push_back(n->id);
  }
}

} // namespace px::net
