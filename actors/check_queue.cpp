#include "actors/check_queue.hpp"

#include <algorithm>

namespace px {

std::string source_of(const net::ip_endpoint& peer) {
  net::ip_endpoint ip;
  auto& b = peer.bytes;
  bool mapped = peer.v6 && std::all_of(b.begin(), b.begin() + 10,
                                       [](uint8_t x) { return x == 0; })
                && b[10] == 0xFF && b[11] == 0xFF;
  if (!peer.v6 || mapped) {
    std::copy(b.begin() + (mapped ? 12 : 0), b.begin() + (mapped ? 16 : 4),
              ip.bytes.begin());
    return ip.host_string();
  }
  // One client commonly holds a whole /64: it is one source.
  ip.v6 = true;
  std::copy(b.begin(), b.begin() + 8, ip.bytes.begin());
  return ip.host_string() + "/64";
}

check_queue::check_queue(check_limits lim) : lim_(lim) {
  // nop
}

check_queue::pushed check_queue::push(check_job job,
                                      std::vector<check_job>& overflow) {
  if (auto i = jobs_.find(job.key); i != jobs_.end()) {
    for (auto& w : job.waiters) {
      if (w.ticket != 0)
        tickets_[w.ticket] = job.key;
      i->second.job.waiters.push_back(std::move(w));
    }
    return pushed::joined;
  }
  if (queued_from(job.source) >= lim_.per_source || queued_ >= lim_.total) {
    auto v = pick_victim(job);
    if (!v) {
      overflow.push_back(std::move(job));
      return pushed::refused;
    }
    evict(*v, overflow);
  }
  auto key = job.key;
  sources_[job.source].push_back(key);
  for (auto& w : job.waiters)
    if (w.ticket != 0)
      tickets_[w.ticket] = key;
  jobs_.emplace(key, entry{std::move(job), false});
  ++queued_;
  return pushed::queued;
}

std::optional<check_queue::victim>
check_queue::newest(const std::string& source, bool unknown_only) const {
  auto s = sources_.find(source);
  if (s == sources_.end())
    return std::nullopt;
  for (auto i = s->second.rbegin(); i != s->second.rend(); ++i)
    if (!unknown_only || !jobs_.at(*i).job.exists)
      return victim{source, *i};
  return std::nullopt;
}

std::optional<check_queue::victim>
check_queue::pick_victim(const check_job& job) const {
  // A full source: a known name takes the place of its newest unknown one.
  if (queued_from(job.source) >= lim_.per_source)
    return job.exists ? newest(job.source, true) : std::nullopt;
  // Full in total: a known name takes the place of the newest unknown one
  // of the source with most checks queued that has one ...
  const std::string* most = nullptr;
  size_t n = 0;
  for (auto& [name, q] : sources_)
    if (q.size() > n && (!job.exists || newest(name, true))) {
      n = q.size();
      most = &name;
    }
  if (job.exists && most)
    return newest(*most, true);
  // ... else (and an unknown one only of an unknown one) the source with
  // most, if it has at least two more queued than this one.
  for (auto& [name, q] : sources_)
    if (q.size() > n) {
      n = q.size();
      most = &name;
    }
  if (!most || *most == job.source || n < queued_from(job.source) + 2)
    return std::nullopt;
  return newest(*most, !job.exists);
}

void check_queue::evict(const victim& v, std::vector<check_job>& out) {
  unqueue(v.first, v.second);
  auto i = jobs_.find(v.second);
  for (auto& w : i->second.job.waiters)
    tickets_.erase(w.ticket);
  out.push_back(std::move(i->second.job));
  jobs_.erase(i);
}

void check_queue::unqueue(const std::string& source, const check_key& key) {
  auto s = sources_.find(source);
  s->second.erase(std::find(s->second.begin(), s->second.end(), key));
  --queued_;
  if (s->second.empty())
    sources_.erase(s);
}

check_job* check_queue::pop() {
  if (sources_.empty())
    return nullptr;
  auto s = sources_.upper_bound(served_last_);
  if (s == sources_.end())
    s = sources_.begin();
  served_last_ = s->first;
  auto key = s->second.front();
  unqueue(s->first, key);
  auto& e = jobs_.at(key);
  e.hashing = true;
  return &e.job;
}

void check_queue::drop_unknown(std::vector<check_job>& out) {
  std::vector<victim> unknown;
  for (auto& [name, q] : sources_)
    for (auto& key : q)
      if (!jobs_.at(key).job.exists)
        unknown.emplace_back(name, key);
  for (auto& v : unknown)
    evict(v, out);
}

bool check_queue::cancel(uint64_t ticket) {
  auto t = tickets_.find(ticket);
  if (ticket == 0 || t == tickets_.end())
    return false;
  auto i = jobs_.find(t->second);
  tickets_.erase(t);
  auto& ws = i->second.job.waiters;
  ws.erase(std::remove_if(ws.begin(), ws.end(),
                          [ticket](const check_waiter& w) {
                            return w.ticket == ticket;
                          }),
           ws.end());
  if (!ws.empty() || i->second.hashing)
    return false;
  unqueue(i->second.job.source, i->first);
  jobs_.erase(i);
  return true;
}

std::optional<check_job> check_queue::finish(const check_key& key) {
  auto i = jobs_.find(key);
  if (i == jobs_.end() || !i->second.hashing)
    return std::nullopt;
  auto job = std::move(i->second.job);
  jobs_.erase(i);
  for (auto& w : job.waiters)
    tickets_.erase(w.ticket);
  return job;
}

size_t check_queue::queued_from(const std::string& source) const {
  auto i = sources_.find(source);
  return i == sources_.end() ? 0 : i->second.size();
}

} // namespace px
