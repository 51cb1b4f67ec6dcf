#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include <caf/all.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>

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
  }
  return "unknown";
}

std::string registry_state::file_contents() const {
  std::vector<config::user_entry> all;
  for (auto& kv : users)
    all.push_back(config::user_entry{kv.first, kv.second.roles, kv.second.hash});
  for (auto& kv : pending)
    if (!kv.second.hash.empty())
      all.push_back(kv.second);
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return x.name < y.name; });
  return config::format_users(all);
}

std::array<uint8_t, 32> registry_state::digest(const std::string& user,
                                               const std::string& password) const {
  return login_digest(key, user, password);
}

std::shared_ptr<const verified_logins> registry_state::logins() const {
  auto out = std::make_shared<verified_logins>();
  out->key = key;
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

void registry_state::load(const std::vector<config::user_entry>& entries) {
  std::map<std::string, registry_user> fresh;
  for (auto& e : entries) {
    registry_user u;
    u.roles = e.roles;
    u.hash = e.hash;
    // Keep the verified-password cache only while the hash is unchanged.
    if (auto i = users.find(e.name); i != users.end() && i->second.hash == e.hash) {
      u.verified = i->second.verified;
      u.has_verified = i->second.has_verified;
    }
    fresh.emplace(e.name, std::move(u));
  }
  users.swap(fresh);
}

hasher_actor registry_state::pick_hasher() {
  auto h = hashers[next_hasher % hashers.size()];
  ++next_hasher;
  return h;
}

namespace {

using registry_ptr = registry_actor::stateful_pointer<registry_state>;

/// How long a hasher may take for one password.
constexpr auto hash_timeout = std::chrono::seconds{10};

/// How long the persister may take for one write of the users file.
constexpr auto write_timeout = std::chrono::seconds{30};

// -- publishing verified logins -------------------------------------------------

/// Publishes verified logins now.
void publish(registry_ptr self) {
  auto& st = self->state;
  st.publish_scheduled = false;
  if (st.sink)
    self->send(st.sink, logins_update{st.logins()});
}

/// Publishes soon: a burst of first logins costs one copy of the table.
void publish_soon(registry_ptr self) {
  auto& st = self->state;
  if (st.publish_scheduled || !st.sink)
    return;
  st.publish_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds{20}, publish_atom_v);
}

// -- checking a login: cached? -> verify in a hasher -> answer every waiter ------

/// Answers every check waiting on `key` with the hasher's verdict `ok`, and
/// caches a verified password while `user` still has the hash checked.
void finish_check(registry_ptr self, const registry_state::check_key& key,
                  const std::string& user, bool exists, bool ok) {
  auto& st = self->state;
  auto w = st.checking.find(key);
  if (w == st.checking.end())
    return;
  auto all = std::move(w->second);
  st.checking.erase(w);
  auto j = st.users.find(user);
  ok = ok && exists && j != st.users.end() && j->second.hash == key.second;
  bool cached = false;
  for (auto& x : all) {
    x.rp.deliver(ok && x.known);
    cached = cached || (ok && x.known);
  }
  if (cached) {
    j->second.verified = key.first;
    j->second.has_verified = true;
    publish_soon(self);
  }
}

/// Checks (user, password) for `role`: from the cache, else in a hasher.
caf::result<bool> check_login(registry_ptr self, const std::string& user,
                              const std::string& password, uint8_t role) {
  auto& st = self->state;
  auto i = st.users.find(user);
  bool exists = i != st.users.end();
  bool known = exists && (i->second.roles & role) != 0;
  auto d = st.digest(user, password);
  if (known && i->second.has_verified
      && CRYPTO_memcmp(d.data(), i->second.verified.data(), d.size()) == 0)
    return true;
  // An unknown name costs a hash as well (of a dummy), so that a wrong
  // name takes as long as a wrong password.
  auto key = registry_state::check_key{d, exists ? i->second.hash : st.dummy_hash};
  auto rp = self->make_response_promise<bool>();
  auto& waiters = st.checking[key];
  waiters.push_back(registry_state::waiter{rp, known});
  if (waiters.size() > 1)
    return rp; // the same credentials are being checked: share the hash
  self->request(st.pick_hasher(), hash_timeout, verify_atom_v, password, key.second)
    .then([=](bool ok) { finish_check(self, key, user, exists, ok); },
          [=](caf::error&) { finish_check(self, key, user, exists, false); });
  return rp;
}

// -- adding a user: validate -> hash -> persist -> commit and acknowledge --------

/// An add in flight: the user being added and who waits for the result.
struct user_add {
  std::string user;
  uint8_t roles = 0;
  caf::typed_response_promise<add_result> rp;
};

/// Any step failed: the user is not added, the asker learns `why`.
void fail_add(registry_ptr self, user_add& add, add_result why) {
  self->state.pending.erase(add.user);
  add.rp.deliver(why);
}

/// Last step: the user exists from now on; the asker learns it.
void commit_new_user(registry_ptr self, user_add& add, const std::string& hash) {
  auto& st = self->state;
  st.users[add.user] = registry_user{add.roles, hash, {}, false};
  st.pending.erase(add.user);
  add.rp.deliver(add_result::ok);
}

/// Third step: writes the users file with the new user in it (nothing to
/// write when users live in memory only), then commits.
void persist_new_user(registry_ptr self, user_add add, const std::string& hash) {
  auto& st = self->state;
  if (hash.empty()) {
    fail_add(self, add, add_result::invalid);
    return;
  }
  st.pending[add.user].hash = hash;
  if (st.cfg.path.empty()) {
    commit_new_user(self, add, hash);
    return;
  }
  self->request(st.persist, write_timeout, write_atom_v, st.cfg.path,
                st.file_contents())
    .then(
      [=](const std::string& err) mutable {
        if (!err.empty()) {
          log::error("cannot save user '" + add.user + "': " + err);
          fail_add(self, add, add_result::io_error);
          return;
        }
        log::info("user '" + add.user + "' added ("
                  + config::roles_to_string(add.roles) + ")");
        commit_new_user(self, add, hash);
      },
      [=](caf::error&) mutable { fail_add(self, add, add_result::io_error); });
}

/// Second step: hashes the password in a hasher, then persists.
void hash_new_user(registry_ptr self, user_add add, const std::string& password) {
  self->request(self->state.pick_hasher(), hash_timeout, hash_atom_v, password)
    .then([=](const std::string& hash) { persist_new_user(self, add, hash); },
          [=](caf::error&) mutable { fail_add(self, add, add_result::io_error); });
}

/// First step: validates and reserves the name, then hashes. Answered once
/// the user is durable (or failed).
caf::result<add_result> add_user(registry_ptr self, const std::string& user,
                                 const std::string& password, uint8_t roles) {
  auto& st = self->state;
  if (auto why = st.validate_add(user, password, roles); why != add_result::ok)
    return why;
  st.pending[user] = config::user_entry{user, roles, {}};
  auto rp = self->make_response_promise<add_result>();
  hash_new_user(self, user_add{user, roles, rp}, password);
  return rp;
}

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

} // namespace

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<config::user_entry> users,
         std::vector<hasher_actor> hashers, registry_config cfg,
         persister_actor persist) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.persist = std::move(persist);
  st.key = random_key();
  st.hashers = std::move(hashers);
  st.load(users);
  // A valid yescrypt hash (default cost) of 32 random bytes nobody kept.
  st.dummy_hash = "$y$j9T$CSQrVdnvNd.XLIjfXi/7Y0$"
                  "w0Ykr.hu.Dl9KxBDFGKFa3r.2H8yfbk0RyMNneUJlJ/";
  return {
    [=](auth_atom, const std::string& user, const std::string& password,
        uint8_t role) { return check_login(self, user, password, role); },
    [=](logins_sink sink) {
      self->state.sink = std::move(sink);
      publish(self);
    },
    [=](publish_atom) { publish(self); },
    [=](reload_atom, std::vector<config::user_entry>& entries) {
      self->state.load(entries);
      publish(self); // at once: a dropped user must not log in again
      log::info("users reloaded: " + std::to_string(entries.size()) + " users");
    },
    [=](add_atom, const std::string& user, const std::string& password,
        uint8_t roles) { return add_user(self, user, password, roles); },
    [=](exists_atom, const std::string& user, uint8_t role) {
      auto& users = self->state.users;
      auto i = users.find(user);
      return i != users.end() && (i->second.roles & role) != 0;
    },
    [=](list_atom) {
      std::vector<std::string> names;
      for (auto& kv : self->state.users)
        names.push_back(kv.first);
      return names;
    },
  };
}

} // namespace px
