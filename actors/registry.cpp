#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include <caf/all.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "actors/registry_steps.hpp"
#include "config/users.hpp"
#include "net/log.hpp"

namespace px {

const char* to_string(add_result x) {
  switch (x) {
    case add_result::ok:
      return "ok";
    case add_result::exists:
      return "exists";
    case add_result::full:
      return "full";
    case add_result::invalid:
      return "invalid";
    case add_result::io_error:
      return "io-error";
    case add_result::no_user:
      return "no-such-user";
    case add_result::busy:
      return "busy";
    case add_result::forbidden:
      return "forbidden";
  }
  return "unknown";
}

const char* to_string(auth_verdict x) {
  switch (x) {
    case auth_verdict::granted:
      return "granted";
    case auth_verdict::denied:
      return "denied";
    case auth_verdict::overloaded:
      return "overloaded";
  }
  return "unknown";
}

config::user_entry plain_entry(std::string name, uint8_t roles, std::string hash) {
  config::user_entry e;
  e.name = std::move(name);
  e.roles = roles;
  e.hash = std::move(hash);
  return e;
}

namespace {

/// `over` where it is set (>= 0), else `def`.
template <class T>
T pick(int64_t over, T def) {
  return over < 0 ? def : static_cast<T>(over);
}

} // namespace

void registry_state::sync_accounts() {
  if (!cfg.accounts)
    return;
  for (auto i = accounts.begin(); i != accounts.end();)
    i = users.count(i->first) ? std::next(i) : accounts.erase(i);
  auto out = std::make_shared<account_map>();
  for (auto& kv : users) {
    auto& acct = accounts[kv.first];
    if (!acct)
      acct = std::make_shared<net::account>(kv.first);
    auto& p = kv.second.profile;
    auto& d = cfg.user_defaults;
    net::account_limits lim;
    lim.sessions = pick(p.sessions, d.sessions);
    lim.connect_rate = pick(p.connect_rate, d.connect_rate);
    lim.bandwidth_up = pick(p.bandwidth_up, d.bandwidth_up);
    lim.bandwidth_down = pick(p.bandwidth_down, d.bandwidth_down);
    acct->configure(lim);
    if (*acct->groups() != p.groups)
      acct->set_groups(p.groups);
    if (*acct->outbound() != p.outbound)
      acct->set_outbound(p.outbound);
    if (*acct->via() != p.via)
      acct->set_via(p.via);
    out->by_name.emplace(kv.first, acct);
  }
  cfg.accounts->publish(std::move(out));
}

user_stats stats_of(const net::account& a) {
  user_stats s;
  s.name = a.name();
  s.open = a.sessions.open();
  s.connections = a.connections.load();
  s.bytes_up = a.bytes_up.load();
  s.bytes_down = a.bytes_down.load();
  s.refused_sessions = a.refused_sessions.load();
  s.refused_rate = a.refused_rate.load();
  auto lim = a.limits();
  s.max_sessions = lim.sessions;
  s.connect_rate = lim.connect_rate;
  s.bandwidth_up = lim.bandwidth_up;
  s.bandwidth_down = lim.bandwidth_down;
  return s;
}

std::vector<user_stats> registry_state::stats(const std::string& user) const {
  std::vector<user_stats> out;
  for (auto& kv : accounts)
    if (user.empty() || kv.first == user)
      out.push_back(stats_of(*kv.second));
  return out;
}

std::string registry_state::file_contents() const {
  std::map<std::string, config::user_entry> all;
  for (auto& kv : users) {
    auto e = kv.second.profile;
    e.name = kv.first;
    e.roles = kv.second.roles;
    e.hash = kv.second.hash;
    all[kv.first] = std::move(e);
  }
  for (auto& c : writing) {
    auto i = all.find(c.user);
    switch (c.kind) {
      case change_kind::add:
        all[c.user] = plain_entry(c.user, c.roles, c.hash);
        break;
      case change_kind::remove:
        if (i != all.end())
          all.erase(i);
        break;
      case change_kind::passwd: // unless a reload dropped the user meanwhile
        if (i != all.end())
          i->second.hash = c.hash;
        break;
      case change_kind::put: // a replicated put keeps the user's limits
        if (i == all.end()) {
          all[c.user] = plain_entry(c.user, c.roles, c.hash);
        } else {
          i->second.roles = c.roles;
          i->second.hash = c.hash;
        }
        break;
    }
  }
  std::vector<config::user_entry> out;
  for (auto& kv : all)
    out.push_back(std::move(kv.second));
  return config::format_users(out);
}

std::array<uint8_t, 32> registry_state::digest(const std::string& user,
                                               const std::string& password) const {
  return login_digest(key, user, password);
}

size_t registry_state::capacity() const {
  if (cfg.checks.per_second > 0)
    return cfg.checks.per_second;
  auto each = std::max<caf::actor_clock::duration_type>(
    hash_time, std::chrono::milliseconds{1});
  auto n = hashers.size() * static_cast<size_t>(std::chrono::seconds{1} / each);
  return std::max<size_t>(1, n);
}

bool registry_state::verified(const std::string& user,
                              const std::string& password, uint8_t role) const {
  auto i = users.find(user);
  if (i == users.end() || (i->second.roles & role) == 0 || !i->second.has_verified)
    return false;
  auto d = digest(user, password);
  return CRYPTO_memcmp(d.data(), i->second.verified.data(), d.size()) == 0;
}

std::shared_ptr<const verified_logins> registry_state::logins() const {
  auto out = std::make_shared<verified_logins>();
  out->key = key;
  out->epoch = epoch;
  for (auto& kv : users)
    if (kv.second.has_verified)
      out->users.emplace(kv.first,
                         verified_logins::entry{kv.second.roles, kv.second.verified});
  return out;
}

add_result registry_state::validate_add(const std::string& user,
                                       const std::string& password,
                                       uint8_t roles) const {
  if (!config::valid_username(user) || !config::valid_password(password)
      || roles == 0 || (roles & ~(config::role_socks | config::role_admin)))
    return add_result::invalid;
  if (users.count(user) || pending.count(user))
    return add_result::exists;
  if (users.size() + pending.size() >= cfg.max_users)
    return add_result::full;
  return add_result::ok;
}

add_result registry_state::validate_change(change_kind kind,
                                           const std::string& user,
                                           const std::string& password) const {
  auto i = users.find(user);
  if (i == users.end())
    return pending.count(user) ? add_result::busy : add_result::no_user;
  if (pending.count(user))
    return add_result::busy;
  if (kind == change_kind::remove && (i->second.roles & config::role_admin))
    return add_result::forbidden;
  if (kind == change_kind::passwd && !config::valid_password(password))
    return add_result::invalid;
  return add_result::ok;
}

std::vector<std::string>
registry_state::load(const std::vector<config::user_entry>& entries,
                     size_t* gone) {
  std::vector<std::string> changed;
  std::map<std::string, registry_user> fresh;
  for (auto& e : entries) {
    if (auto i = users.find(e.name); i != users.end() && i->second.hash != e.hash)
      changed.push_back(e.name);
    registry_user u;
    u.roles = e.roles;
    u.hash = e.hash;
    u.profile = e;
    // Keep the verified-password cache only while the hash is unchanged.
    if (auto i = users.find(e.name); i != users.end() && i->second.hash == e.hash) {
      u.verified = i->second.verified;
      u.has_verified = i->second.has_verified;
    }
    fresh.emplace(e.name, std::move(u));
  }
  std::vector<std::string> out;
  for (auto& kv : users)
    if (fresh.count(kv.first) == 0)
      out.push_back(kv.first);
  if (gone != nullptr)
    *gone = out.size();
  out.insert(out.end(), changed.begin(), changed.end());
  users.swap(fresh);
  return out;
}

namespace registry_steps {

// -- hashers: one job each at a time; adds first, then login checks ----------

void dispatch(registry_ptr self) {
  auto& st = self->state;
  while (!st.idle.empty()) {
    auto h = st.idle.back();
    if (!st.to_hash.empty()) {
      st.idle.pop_back();
      auto add = std::move(st.to_hash.front());
      st.to_hash.pop_front();
      hash_new_user(self, std::move(h), std::move(add));
      continue;
    }
    auto job = st.checks.pop();
    if (job == nullptr)
      return;
    st.idle.pop_back();
    verify_check(self, std::move(h), *job);
  }
}

void hasher_done(registry_ptr self, const hasher_actor& h) {
  self->state.idle.push_back(h);
  dispatch(self);
}

// -- publishing verified logins -------------------------------------------------

void publish(registry_ptr self) {
  auto& st = self->state;
  st.publish_scheduled = false;
  if (st.sink)
    self->send(st.sink, logins_update{st.logins()});
}

void forget_logins(registry_ptr self, const std::vector<std::string>& names,
                   size_t close) {
  auto& st = self->state;
  if (names.empty())
    return;
  ++st.epoch;
  for (size_t i = 0; i < names.size(); ++i) {
    auto a = st.accounts.find(names[i]);
    if (a == st.accounts.end())
      continue;
    auto& acct = a->second;
    // Logins remembered so far no longer count; a deleted user's
    // connections close on their loops (unless on_user_delete = keep).
    acct->revoked_epoch.store(st.epoch);
    if (i >= close)
      continue;
    acct->deleted.store(true);
    if (st.cfg.close_on_delete && st.cfg.io != nullptr) {
      if (auto n = acct->sessions.open(); n > 0)
        log::info("closing " + std::to_string(n) + " sessions of deleted user '"
                  + names[i] + "'");
      st.cfg.io->close_user(acct);
    }
  }
  st.sync_accounts();
  publish(self); // at once: the old password must not log in again
}

} // namespace registry_steps

namespace {

using namespace registry_steps;

/// A random key for the login digests.
std::array<uint8_t, 32> random_key() {
  std::array<uint8_t, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    std::random_device rd;
    for (auto& b : key)
      b = static_cast<uint8_t>(rd());
  }
  return key;
}

/// Replaces all users (a reload of the users file).
void reload_users(registry_ptr self, const std::vector<config::user_entry>& entries) {
  size_t gone = 0;
  auto names = self->state.load(entries, &gone);
  // At once: a dropped user must not log in again, and its sessions end as
  // after a delete over the admin plane.
  forget_logins(self, names, gone);
  if (names.empty()) {
    self->state.sync_accounts();
    publish(self);
  }
  notify_users(self);
  log::info("users reloaded: " + std::to_string(entries.size()) + " users");
}

/// The registry's state at start: its users, hashers and persister.
void init_state(registry_state& st, std::vector<config::user_entry>& users,
                std::vector<hasher_actor> hashers, registry_config cfg,
                persister_actor persist) {
  st.cfg = std::move(cfg);
  st.persist = std::move(persist);
  st.key = random_key();
  st.hashers = std::move(hashers);
  st.idle = st.hashers;
  st.checks = check_queue{st.cfg.checks};
  st.load(users);
  st.sync_accounts();
  // A valid yescrypt hash (default cost) of 32 random bytes nobody kept.
  st.dummy_hash = "$y$j9T$CSQrVdnvNd.XLIjfXi/7Y0$"
                  "w0Ykr.hu.Dl9KxBDFGKFa3r.2H8yfbk0RyMNneUJlJ/";
}

} // namespace

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<config::user_entry> users,
         std::vector<hasher_actor> hashers, registry_config cfg,
         persister_actor persist) {
  init_state(self->state, users, std::move(hashers), std::move(cfg), std::move(persist));
  return {
    [=](auth_atom, const std::string& user, const std::string& password,
        uint8_t role) { return check_admin_login(self, user, password, role); },
    [=](login_request& req) { return check_login(self, req); },
    [=](cancel_atom, uint64_t ticket) { self->state.checks.cancel(ticket); },
    [=](overload_atom) { report_refusals(self); },
    [=](logins_sink sink) {
      self->state.sink = std::move(sink);
      publish(self);
    },
    [=](publish_atom) { publish(self); },
    [=](limits_atom, net::account_limits defaults) {
      self->state.cfg.user_defaults = defaults;
      self->state.sync_accounts();
    },
    [=](reload_atom, std::vector<config::user_entry>& entries) {
      reload_users(self, entries);
    },
    [=](add_atom, const std::string& user, const std::string& password,
        uint8_t roles) { return add_user(self, user, password, roles); },
    [=](del_atom, const std::string& user) {
      return change_user(self, change_kind::remove, user, {});
    },
    [=](passwd_atom, const std::string& user, const std::string& password) {
      return change_user(self, change_kind::passwd, user, password);
    },
    [=](exists_atom, const std::string& user, uint8_t role) {
      auto& users = self->state.users;
      auto i = users.find(user);
      return i != users.end() && (i->second.roles & role) != 0;
    },
    [=](users_listener who) {
      self->state.listener = std::move(who);
      send_users(self);
    },
    [=](users_atom) { send_users(self); },
    [=](apply_atom, const cluster_entry& e) { return apply_entry(self, e); },
    [=](list_atom) {
      std::vector<std::string> names;
      for (auto& kv : self->state.users)
        names.push_back(kv.first);
      return names;
    },
    [=](stats_atom, const std::string& user) {
      return self->state.stats(user);
    },
  };
}

} // namespace px
