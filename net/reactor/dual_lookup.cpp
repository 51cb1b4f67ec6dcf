#include "net/reactor/dual_lookup.hpp"

namespace px::net {

bool dual_lookup::add(bool v6, resolve_result answer, clock::time_point now) {
  auto i = v6 ? 1 : 0;
  if (got_[i])
    return both(); // c-ares answers each query once; a repeat changes nothing
  got_[i] = true;
  answer_[i] = std::move(answer);
  if (answer_[i].err == connect_error::none && answer_[i].addrs.empty())
    answer_[i].err = connect_error::name_not_found;
  if (both())
    return true;
  if (!answer_[i].addrs.empty())
    deadline_ = now + resolution_delay;
  return false;
}

resolve_result dual_lookup::take(bool v6_first) {
  resolve_result out;
  auto& first = answer_[v6_first ? 1 : 0];
  auto& second = answer_[v6_first ? 0 : 1];
  out.addrs = std::move(first.addrs);
  out.addrs.insert(out.addrs.end(), second.addrs.begin(), second.addrs.end());
  if (!out.addrs.empty())
    return out;
  // Nothing found: "no such name" only when every family that answered
  // says so; a timeout or a failure of one family is the truer reason.
  out.err = connect_error::name_not_found;
  for (auto& a : answer_)
    if (a.err != connect_error::none && a.err != connect_error::name_not_found)
      out.err = a.err;
  return out;
}

} // namespace px::net
