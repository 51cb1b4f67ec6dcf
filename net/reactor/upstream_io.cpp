#include "net/reactor/upstream_io.hpp"

#include "net/limits.hpp"
#include "net/reactor/rule_checks.hpp"

namespace px::net {

void upstream_io::start(const parent_proxy& parent, const socks5::address& target,
                        socks5::command cmd) {
  out_ = outbox{};
  in_.clear();
  engine_.start(parent, target, out_.bytes, cmd);
}

upstream_outcome upstream_io::step(side& up, size_t chunk) {
  for (;;) {
    if (flush(up, out_) == flush_status::error)
      return {upstream_status::failed, connect_error::other, true};
    switch (read_more(up, in_, chunk)) {
      case read_status::got:
        break;
      case read_status::none:
        return {};
      case read_status::eof:
      case read_status::gone:
        // The parent closed before its reply: its failure, not the target's.
        return {upstream_status::failed, connect_error::other, true};
    }
    auto a = engine_.advance(in_.data(), in_.size(), out_.bytes);
    in_.erase(in_.begin(), in_.begin() + static_cast<long>(a.consumed));
    switch (a.kind) {
      case up_action::need_more:
        continue;
      case up_action::done:
        // The request went out before the reply came: nothing is left to write.
        return {upstream_status::done, connect_error::none, false};
      case up_action::failed:
        return {upstream_status::failed, a.err, a.parent_fault};
    }
  }
}

std::vector<uint8_t> upstream_io::take_early() {
  std::vector<uint8_t> out;
  out.swap(in_);
  return out;
}

const parent_route* choose_route(const upstream_set* set, const rule_subject& who,
                                 const account* user, const socks5::request& req) {
  if (set == nullptr)
    return nullptr;
  if (auto r = routing_rule(who, req); r && !r->via.empty())
    return set->route(r->via); // null (direct) for `direct` or a profile's name
  if (user) {
    auto via = user->via();
    if (!via->empty())
      return set->route(*via);
  }
  return set->default_route();
}

} // namespace px::net
