#include "net/reactor/reporter.hpp"

namespace px::net {

void reporter::closed(std::shared_ptr<conn_handler> h, conn_id id,
                      close_stats stats, time_point now) {
  ++counts_.owned_closed;
  owned_closed_.fetch_add(1, std::memory_order_relaxed);
  if (closing_.empty())
    oldest_ = now;
  closing_.push_back(pending_close{std::move(h), id, std::move(stats)});
}

std::optional<time_point> reporter::next_due() const {
  if (closing_.empty())
    return std::nullopt;
  return oldest_ + delay_;
}

void reporter::deliver_due(time_point now) {
  if (!closing_.empty() && (closing_.size() >= batch_ || now >= oldest_ + delay_))
    deliver_all();
}

void reporter::deliver_all() {
  auto batch = std::move(closing_);
  closing_.clear();
  for (auto& x : batch)
    x.handler->on_closed(x.id, std::move(x.stats));
}

void reporter::flush_traffic() {
  auto& t = counts_;
  if ((t.bytes_up || t.bytes_down || t.udp_dropped || t.connects_ok || t.owned
       || t.owned_closed || t.rule_blocks_connect || t.rule_blocks_bind
       || t.rule_blocks_udp)
      && sink_)
    sink_(t);
  t = traffic_counts{};
}

} // namespace px::net
