#include "actors/cluster_state.hpp"

#include <algorithm>
#include <sstream>

#include "config/cluster_keys.hpp"
#include "config/users.hpp"

namespace px {

bool well_formed(const cluster_entry& e) {
  auto all_roles = config::role_socks | config::role_admin;
  return config::valid_username(e.user) && config::valid_node_name(e.origin)
         && (e.deleted
             || (e.roles != 0 && (e.roles & ~all_roles) == 0 && config::valid_hash(e.hash)));
}

bool newer(const cluster_entry& a, const cluster_entry& b) {
  if (a.counter != b.counter)
    return a.counter > b.counter;
  return a.origin > b.origin;
}

bool same_content(const cluster_entry& a, const cluster_entry& b) {
  if (a.deleted || b.deleted)
    return a.deleted == b.deleted;
  return a.roles == b.roles && a.hash == b.hash;
}

namespace {

/// The registry's view of `name` as an entry without a version.
cluster_entry as_entry(const std::string& name, const cluster_user* u) {
  cluster_entry e;
  e.user = name;
  e.deleted = u == nullptr;
  if (u != nullptr) {
    e.roles = u->roles;
    e.hash = u->hash;
  }
  return e;
}

/// The content of `user` in `m` (absent: deleted).
cluster_entry content_in(const std::map<std::string, cluster_entry>& m,
                         const std::string& user) {
  auto i = m.find(user);
  return i != m.end() ? i->second : as_entry(user, nullptr);
}

} // namespace

cluster_replica::cluster_replica(std::string self) : self_(std::move(self)) {
  // nop
}

const cluster_entry* cluster_replica::current(const std::string& user) const {
  if (auto i = wanted_.find(user); i != wanted_.end())
    return &i->second;
  if (auto i = confirmed_.find(user); i != confirmed_.end())
    return &i->second;
  return nullptr;
}

bool cluster_replica::merge(const cluster_entry& e) {
  if (e.counter > clock_) {
    clock_ = e.counter;
    dirty_ = true;
  }
  auto cur = current(e.user);
  if (cur != nullptr && !newer(e, *cur))
    return false; // older, or a duplicate
  if (!applying(e.user) && same_content(e, content_in(confirmed_, e.user))) {
    wanted_.erase(e.user);
    confirmed_[e.user] = e;
    dirty_ = true;
    return false;
  }
  wanted_[e.user] = e;
  return true;
}

void cluster_replica::begin_apply(const std::string& user) {
  applying_.insert(user);
}

void cluster_replica::finish_apply(const cluster_entry& e, bool ok) {
  applying_.erase(e.user);
  if (!ok)
    return;
  // The registry holds `e` now: confirmed, so that the next snapshot is
  // not taken for a local change, while a newer wanted entry still waits.
  auto c = confirmed_.find(e.user);
  if (c == confirmed_.end() || !newer(c->second, e)) {
    confirmed_[e.user] = e;
    dirty_ = true;
  }
  auto w = wanted_.find(e.user);
  if (w != wanted_.end() && !newer(w->second, e))
    wanted_.erase(w);
}

std::vector<cluster_entry>
cluster_replica::observe(const std::vector<cluster_user>& users) {
  std::map<std::string, const cluster_user*> reg;
  for (auto& u : users)
    reg.emplace(u.name, &u);
  std::vector<std::string> names;
  for (auto& kv : reg)
    names.push_back(kv.first);
  for (auto* m : {&confirmed_, &wanted_})
    for (auto& kv : *m)
      names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<cluster_entry> out;
  for (auto& name : names) {
    auto r = reg.find(name);
    auto now = as_entry(name, r == reg.end() ? nullptr : r->second);
    auto old = content_in(confirmed_, name);
    if (auto w = wanted_.find(name); w != wanted_.end()) {
      if (same_content(now, w->second)) {
        confirmed_[name] = w->second;
        wanted_.erase(w);
        dirty_ = true;
        continue;
      }
      if (same_content(now, old))
        continue; // the apply is on its way
      wanted_.erase(w); // a local change after the peer's: it wins
    }
    if (same_content(now, old))
      continue;
    now.counter = ++clock_;
    now.origin = self_;
    confirmed_[name] = now;
    dirty_ = true;
    out.push_back(std::move(now));
  }
  return out;
}

std::vector<cluster_entry> cluster_replica::all() const {
  std::vector<cluster_entry> out;
  for (auto& kv : confirmed_)
    if (wanted_.count(kv.first) == 0)
      out.push_back(kv.second);
  for (auto& kv : wanted_)
    out.push_back(kv.second);
  std::sort(out.begin(), out.end(),
            [](const cluster_entry& a, const cluster_entry& b) { return a.user < b.user; });
  return out;
}

size_t cluster_replica::live() const {
  size_t n = 0;
  for (auto& e : all())
    n += e.deleted ? 0 : 1;
  return n;
}

cluster_digest cluster_replica::digest() const {
  cluster_digest d;
  d.node = self_;
  uint64_t h = 14695981039346656037ull; // FNV-1a
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s)
      h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull;
  };
  for (auto& e : all()) {
    ++d.count;
    mix(e.user);
    mix(std::to_string(e.counter));
    mix(e.origin);
    mix(e.deleted ? "d" : "l");
  }
  d.hash = h;
  return d;
}

bool cluster_replica::take_dirty() {
  bool was = dirty_;
  dirty_ = false;
  return was;
}

std::string cluster_replica::save() const {
  std::ostringstream out;
  out << "# cluster state of the users file (docs/cluster.md); do not edit\n";
  out << "clock " << clock_ << "\n";
  for (auto& kv : confirmed_) {
    auto& e = kv.second;
    out << e.user << ' ' << e.counter << ' ' << e.origin << ' '
        << (e.deleted ? "dead" : "live") << ' ' << unsigned{e.roles} << ' '
        << (e.deleted || e.hash.empty() ? "-" : e.hash) << "\n";
  }
  return out.str();
}

std::variant<cluster_replica, std::string>
cluster_replica::load(std::string self, const std::string& text) {
  cluster_replica r{std::move(self)};
  std::istringstream in{text};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream ls{line};
    std::string first;
    ls >> first;
    if (first == "clock") {
      if (!(ls >> r.clock_))
        return "line " + std::to_string(n) + ": bad clock";
      continue;
    }
    cluster_entry e;
    e.user = first;
    std::string state;
    unsigned roles = 0;
    if (!(ls >> e.counter >> e.origin >> state >> roles >> e.hash)
        || (state != "live" && state != "dead") || roles > 255)
      return "line " + std::to_string(n) + ": malformed entry";
    e.deleted = state == "dead";
    e.roles = static_cast<uint8_t>(roles);
    if (e.deleted || e.hash == "-")
      e.hash.clear();
    r.clock_ = std::max(r.clock_, e.counter);
    r.confirmed_[e.user] = std::move(e);
  }
  return r;
}

} // namespace px
