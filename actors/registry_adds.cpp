// Part of the registry actor (actors/registry.hpp): adding a user. An add
// is validated, hashed by a hasher (one job at a time, before login checks),
// written to the users file, then acknowledged.
#include <chrono>
#include <string>
#include <utility>

#include <caf/all.hpp>

#include "actors/registry_steps.hpp"
#include "config/users.hpp"
#include "net/log.hpp"

namespace px::registry_steps {

namespace {

/// How long the persister may take for one write of the users file.
constexpr auto write_timeout = std::chrono::seconds{30};

/// Any step failed: the name is free again, the asker learns `why`.
void fail_add(registry_ptr self, pending_add& add, add_result why) {
  self->state.pending.erase(add.user);
  add.rp.deliver(why);
}

/// Last step: the user exists from now on; the asker learns it.
void commit_new_user(registry_ptr self, pending_add& add) {
  auto& st = self->state;
  st.users[add.user] = registry_user{add.roles, add.hash, {}, false};
  st.pending.erase(add.user);
  add.rp.deliver(add_result::ok);
}

/// Third step: writes the users file with the new user in it (nothing to
/// write when users live in memory only), then commits.
void persist_new_user(registry_ptr self, pending_add add) {
  auto& st = self->state;
  st.pending[add.user].hash = add.hash;
  if (st.cfg.path.empty()) {
    commit_new_user(self, add);
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
        commit_new_user(self, add);
      },
      [=](caf::error&) mutable { fail_add(self, add, add_result::io_error); });
}

} // namespace

// Then the add is written.
void hash_new_user(registry_ptr self, hasher_actor h, pending_add add) {
  auto password = std::move(add.password);
  add.password.clear();
  self->request(h, hash_timeout, hash_atom_v, std::move(password))
    .then(
      [=](const std::string& hash) mutable {
        add.hash = hash;
        if (hash.empty())
          fail_add(self, add, add_result::invalid);
        else
          persist_new_user(self, std::move(add));
        hasher_done(self, h);
      },
      [=](caf::error&) mutable {
        fail_add(self, add, add_result::io_error);
        hasher_done(self, h);
      });
}

caf::result<add_result> add_user(registry_ptr self, const std::string& user,
                                 const std::string& password, uint8_t roles) {
  auto& st = self->state;
  if (auto why = st.validate_add(user, password, roles); why != add_result::ok)
    return why;
  st.pending[user] = config::user_entry{user, roles, {}};
  auto rp = self->make_response_promise<add_result>();
  st.to_hash.push_back(pending_add{user, roles, password, {}, rp});
  dispatch(self);
  return rp;
}

} // namespace px::registry_steps
