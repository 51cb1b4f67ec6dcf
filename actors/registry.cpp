#include "actors/registry.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include <caf/all.hpp>
#include <openssl/evp.h>
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

namespace {

/// Publishes verified logins now.
void publish(registry_actor::stateful_pointer<registry_state> self) {
  auto& st = self->state;
  st.publish_scheduled = false;
  if (st.sink)
    self->send(st.sink, logins_update{st.logins()});
}

/// Publishes soon: a burst of first logins costs one copy of the table.
void publish_soon(registry_actor::stateful_pointer<registry_state> self) {
  auto& st = self->state;
  if (st.publish_scheduled || !st.sink)
    return;
  st.publish_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds{20}, publish_atom_v);
}

} // namespace

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

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<config::user_entry> users,
         std::vector<hasher_actor> hashers, registry_config cfg,
         persister_actor persist) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.persist = std::move(persist);
  if (RAND_bytes(st.key.data(), static_cast<int>(st.key.size())) != 1) {
    std::random_device rd;
    for (auto& b : st.key)
      b = static_cast<uint8_t>(rd());
  }
  st.hashers = std::move(hashers);
  st.load(users);
  // A valid yescrypt hash (default cost) of 32 random bytes nobody kept.
  st.dummy_hash = "$y$j9T$CSQrVdnvNd.XLIjfXi/7Y0$"
                  "w0Ykr.hu.Dl9KxBDFGKFa3r.2H8yfbk0RyMNneUJlJ/";
  return {
    [=](auth_atom, std::string& user, std::string& password,
        uint8_t role) -> caf::result<bool> {
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
      auto hash = exists ? i->second.hash : st.dummy_hash;
      auto key = std::make_pair(d, hash);
      auto rp = self->make_response_promise<bool>();
      auto& waiters = st.checking[key];
      waiters.push_back(registry_state::waiter{rp, known});
      if (waiters.size() > 1)
        return rp; // the same credentials are being checked: share the hash
      auto finish = [=](bool ok) {
        auto& st = self->state;
        auto w = st.checking.find(key);
        if (w == st.checking.end())
          return;
        auto all = std::move(w->second);
        st.checking.erase(w);
        auto j = st.users.find(user);
        ok = ok && exists && j != st.users.end() && j->second.hash == hash;
        bool cached = false;
        for (auto& x : all) {
          x.rp.deliver(ok && x.known);
          cached = cached || (ok && x.known);
        }
        if (cached) {
          j->second.verified = d;
          j->second.has_verified = true;
          publish_soon(self);
        }
      };
      self
        ->request(st.pick_hasher(), std::chrono::seconds{10}, verify_atom_v,
                  password, hash)
        .then([=](bool ok) { finish(ok); },
              [=](caf::error&) { finish(false); });
      return rp;
    },
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
        uint8_t roles) -> caf::result<add_result> {
      auto& st = self->state;
      if (!config::valid_username(user) || !config::valid_password(password)
          || roles == 0 || (roles & ~(config::role_socks | config::role_admin)))
        return add_result::invalid;
      if (st.users.count(user) || st.pending.count(user))
        return add_result::exists;
      if (st.users.size() + st.pending.size() >= st.cfg.max_users)
        return add_result::full;
      st.pending[user] = config::user_entry{user, roles, {}};
      auto rp = self->make_response_promise<add_result>();
      auto fail = [=](add_result why) mutable {
        self->state.pending.erase(user);
        rp.deliver(why);
      };
      self->request(st.pick_hasher(), std::chrono::seconds{10}, hash_atom_v, password)
        .then(
          [=](const std::string& hash) mutable {
            auto& st = self->state;
            if (hash.empty()) {
              fail(add_result::invalid);
              return;
            }
            st.pending[user].hash = hash;
            if (st.cfg.path.empty()) { // memory only
              st.users[user] = registry_user{roles, hash, {}, false};
              st.pending.erase(user);
              rp.deliver(add_result::ok);
              return;
            }
            self->request(st.persist, std::chrono::seconds{30}, write_atom_v,
                          st.cfg.path, st.file_contents())
              .then(
                [=](const std::string& err) mutable {
                  auto& st = self->state;
                  if (!err.empty()) {
                    log::error("cannot save user '" + user + "': " + err);
                    fail(add_result::io_error);
                    return;
                  }
                  st.users[user] = registry_user{roles, hash, {}, false};
                  st.pending.erase(user);
                  log::info("user '" + user + "' added ("
                            + config::roles_to_string(roles) + ")");
                  rp.deliver(add_result::ok);
                },
                [=](caf::error&) mutable { fail(add_result::io_error); });
          },
          [=](caf::error&) mutable { fail(add_result::io_error); });
      return rp;
    },
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
