// Part of the registry actor (actors/registry.hpp): changing the users. An
// add, delete or password change is validated and reserves its name, is
// hashed by a hasher where it carries a password (one job at a time, before
// login checks), written to the users file, then put in force and
// acknowledged. One write is in flight at a time and holds the users in
// force with exactly the changes it answers for, so that a change answered
// with a failure is in no later write (docs/hardening.md, "Registry
// writes"). A delete closes the user's sessions and a password change
// forgets its remembered logins only once the file holds the change.
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
void fail_add(registry_ptr self, pending_change& add, add_result why) {
  self->state.pending.erase(add.user);
  add.rp.deliver(why);
}

/// What a change did, for the log.
const char* done_text(change_kind kind) {
  switch (kind) {
    case change_kind::add:
      return "added";
    case change_kind::remove:
      return "deleted";
    case change_kind::passwd:
      return "given a new password";
    case change_kind::put:
      return "replicated from a peer";
  }
  return "changed";
}

/// A replicated put is in force: a new user, or new roles or hash (whose
/// remembered logins are forgotten).
void put_user(registry_ptr self, const pending_change& c) {
  auto& st = self->state;
  auto i = st.users.find(c.user);
  if (i == st.users.end()) {
    st.users[c.user] = registry_user{c.roles, c.hash, {}, false, {}};
    st.sync_accounts();
    return;
  }
  i->second = registry_user{c.roles, c.hash, {}, false, std::move(i->second.profile)};
  forget_logins(self, {c.user}, 0);
}

/// Last step: the change is in force from now on; the asker learns it.
void commit_new_user(registry_ptr self, pending_change& add) {
  auto& st = self->state;
  switch (add.kind) {
    case change_kind::add:
      st.users[add.user] = registry_user{add.roles, add.hash, {}, false, {}};
      st.sync_accounts();
      break;
    case change_kind::remove:
      st.users.erase(add.user);
      forget_logins(self, {add.user}, 1);
      break;
    case change_kind::passwd:
      // A reload may have dropped the user meanwhile: then it stays gone.
      if (auto i = st.users.find(add.user); i != st.users.end()) {
        i->second = registry_user{i->second.roles, add.hash, {}, false,
                                  std::move(i->second.profile)};
        forget_logins(self, {add.user}, 0);
      }
      break;
    case change_kind::put:
      put_user(self, add);
      break;
  }
  notify_users(self);
  st.pending.erase(add.user);
  add.rp.deliver(add_result::ok);
}

void write_users(registry_ptr self, bool retry);

/// The write of `st.writing` ended: `err` is empty on success. Each add of
/// that write succeeds or fails with it, and no later write holds a failed
/// one. A write that timed out (`timed_out`) may still land: the file is
/// written again at once without the adds it failed.
void users_written(registry_ptr self, const std::string& err, bool timed_out) {
  auto& st = self->state;
  st.write_busy = false;
  if (err.empty())
    st.rewrite = false;
  else if (timed_out)
    st.rewrite = true;
  auto batch = std::move(st.writing);
  st.writing.clear();
  for (auto& add : batch) {
    if (!err.empty()) {
      log::error("cannot save user '" + add.user + "': " + err);
      fail_add(self, add, add_result::io_error);
      continue;
    }
    log::info("user '" + add.user + "' " + done_text(add.kind) + " ("
              + config::roles_to_string(add.roles) + ")");
    commit_new_user(self, add);
  }
  write_users(self, timed_out);
}

/// Writes the users file with the hashed adds waiting (`to_write`), unless
/// a write is in flight (its end starts the next one). With `retry`, also
/// with none waiting when the file must be written again (`rewrite`).
void write_users(registry_ptr self, bool retry) {
  auto& st = self->state;
  if (st.write_busy || (st.to_write.empty() && !(retry && st.rewrite)))
    return;
  st.write_busy = true;
  st.writing = std::move(st.to_write);
  st.to_write.clear();
  self->request(st.persist, write_timeout, write_atom_v, st.cfg.path,
                st.file_contents())
    .then([=](const std::string& err) { users_written(self, err, false); },
          [=](caf::error& e) {
            users_written(self, "no answer from the writer: " + caf::to_string(e),
                          true);
          });
}

} // namespace

void queue_write(registry_ptr self, pending_change change) {
  if (self->state.cfg.path.empty()) {
    commit_new_user(self, change);
    return;
  }
  self->state.to_write.push_back(std::move(change));
  write_users(self, false);
}

// The add waits for the next write (or is committed at once when users
// live in memory only).
void hash_new_user(registry_ptr self, hasher_actor h, pending_change add) {
  auto password = std::move(add.password);
  add.password.clear();
  self->request(h, hash_timeout, hash_atom_v, std::move(password))
    .then(
      [=](const std::string& hash) mutable {
        add.hash = hash;
        if (hash.empty())
          fail_add(self, add, add_result::invalid);
        else
          queue_write(self, std::move(add));
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
  st.pending[user] = plain_entry(user, roles, {});
  auto rp = self->make_response_promise<add_result>();
  st.to_hash.push_back(pending_change{change_kind::add, user, roles, password, {}, rp});
  dispatch(self);
  return rp;
}

caf::result<add_result> change_user(registry_ptr self, change_kind kind,
                                    const std::string& user,
                                    const std::string& password) {
  auto& st = self->state;
  if (auto why = st.validate_change(kind, user, password); why != add_result::ok)
    return why;
  auto roles = st.users[user].roles;
  st.pending[user] = plain_entry(user, roles, {});
  auto rp = self->make_response_promise<add_result>();
  pending_change c{kind, user, roles, password, {}, rp};
  if (kind == change_kind::passwd) {
    st.to_hash.push_back(std::move(c));
    dispatch(self);
  } else {
    queue_write(self, std::move(c));
  }
  return rp;
}

} // namespace px::registry_steps
