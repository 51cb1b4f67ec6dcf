// The registry's login checks: a verified login from the cache, else a job
// in the check queue (per source, bounded) that a hasher verifies; every
// waiter of the same (user, password) gets the one verdict. Under overload
// new checks of unknown names are refused unchecked (docs/hardening.md).
#include <chrono>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "actors/registry.hpp"
#include "actors/registry_steps.hpp"
#include "net/log.hpp"

namespace px {

namespace {

using namespace registry_steps;

/// At most one log line about refused login checks per interval.
constexpr auto refusal_log_interval = std::chrono::seconds{1};

/// Overload lasts this long after the last check over capacity.
constexpr auto overload_hold = std::chrono::seconds{1};

/// Publishes soon: a burst of first logins costs one copy of the table.
void publish_soon(registry_ptr self) {
  auto& st = self->state;
  if (st.publish_scheduled || !st.sink)
    return;
  st.publish_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds{20}, publish_atom_v);
}

// -- checking a login: cached? -> queue -> a hasher -> every waiter ------------

/// Answers `w` with `v`. An admin login (a bool) refused for overload gets
/// an error: it was not checked, so it must not read as a wrong password.
void answer(check_waiter& w, auth_verdict v) {
  if (!w.boolean)
    w.rp.deliver(v);
  else if (v == auth_verdict::overloaded)
    w.rp.deliver(caf::make_error(caf::sec::request_timeout));
  else
    w.rp.deliver(v == auth_verdict::granted);
}

/// Tells every waiter of `jobs` that its check was not done (overload).
void refuse(registry_ptr self, std::vector<check_job>& jobs) {
  auto& st = self->state;
  for (auto& job : jobs)
    for (auto& w : job.waiters) {
      answer(w, auth_verdict::overloaded);
      ++st.refused;
    }
  if (st.refused > 0 && !st.refusals_scheduled) {
    st.refusals_scheduled = true;
    self->delayed_send(self, refusal_log_interval, overload_atom_v);
  }
}

/// A hasher's verdict on `key` (nothing: the hasher failed): answers every
/// waiter, and caches a verified password while the user still has the
/// hash checked.
void finish_check(registry_ptr self, const check_key& key,
                  std::optional<bool> ok) {
  auto& st = self->state;
  auto job = st.checks.finish(key);
  if (!job)
    return;
  if (!ok) {
    std::vector<check_job> failed;
    failed.push_back(std::move(*job));
    refuse(self, failed);
    return;
  }
  auto j = st.users.find(job->user);
  bool good = *ok && job->exists && j != st.users.end() && j->second.hash == key.second;
  bool cached = false;
  for (auto& w : job->waiters) {
    bool granted = good && w.role_ok;
    answer(w, granted ? auth_verdict::granted : auth_verdict::denied);
    cached = cached || granted;
  }
  if (cached) {
    j->second.verified = key.first;
    j->second.has_verified = true;
    publish_soon(self);
  }
}

} // namespace

// Also keeps track of how long a check takes (for capacity()).
void registry_steps::verify_check(registry_ptr self, hasher_actor h,
                                  check_job& job) {
  auto key = job.key;
  auto since = self->clock().now();
  auto done = [=](std::optional<bool> ok) {
    auto& ht = self->state.hash_time;
    ht = (7 * ht + (self->clock().now() - since)) / 8;
    finish_check(self, key, ok);
    hasher_done(self, h);
  };
  self->request(h, hash_timeout, verify_atom_v, std::move(job.password), key.second)
    .then([=](bool ok) { done(ok); },
          [=](caf::error&) { done(std::nullopt); });
}

namespace {

/// Counts a new check (one that needs a hash of its own); true while
/// new checks arrive faster than the hashers can do them. When that
/// begins, the queued checks of unknown user names are refused.
bool overloaded_by_new_check(registry_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (now - st.window_start >= std::chrono::seconds{1}) {
    st.window_start = now;
    st.window_checks = 0;
  }
  bool was = now < st.overloaded_until;
  if (++st.window_checks > st.capacity())
    st.overloaded_until = now + overload_hold;
  if (now >= st.overloaded_until)
    return false;
  if (!was) {
    std::vector<check_job> unknown;
    st.checks.drop_unknown(unknown);
    refuse(self, unknown);
  }
  return true;
}

/// Queues the check of (user, password) for `role`, asked by `w` from
/// `source`. An unknown name costs a hash as well (of a dummy), so that a
/// wrong name takes as long as a wrong password, except under overload:
/// then it is refused unchecked (the trade-off is in docs/hardening.md).
void queue_check(registry_ptr self, const std::string& user,
                 std::string password, uint8_t role, std::string source,
                 check_waiter w) {
  auto& st = self->state;
  auto i = st.users.find(user);
  bool exists = i != st.users.end();
  w.role_ok = exists && (i->second.roles & role) != 0;
  check_job job;
  job.key = check_key{st.digest(user, password),
                      exists ? i->second.hash : st.dummy_hash};
  job.user = user;
  job.password = std::move(password);
  job.exists = exists;
  job.source = std::move(source);
  job.waiters.push_back(std::move(w));
  std::vector<check_job> overflow;
  if (!st.checks.contains(job.key) && overloaded_by_new_check(self) && !exists)
    overflow.push_back(std::move(job));
  else
    st.checks.push(std::move(job), overflow);
  refuse(self, overflow);
  dispatch(self);
}

} // namespace

/// A SOCKS login: from the cache, else queued under the client's address.
caf::result<auth_verdict> registry_steps::check_login(registry_ptr self,
                                                     login_request& req) {
  if (self->state.verified(req.user, req.password, req.role))
    return auth_verdict::granted;
  auto rp = self->make_response_promise<auth_verdict>();
  queue_check(self, req.user, std::move(req.password), req.role,
              source_of(req.peer), check_waiter{req.ticket, false, rp, false});
  return rp;
}

/// An admin login: from the cache, else queued (the admin plane is one
/// source of its own).
caf::result<bool> registry_steps::check_admin_login(registry_ptr self,
                                                    const std::string& user,
                                                    const std::string& password,
                                                    uint8_t role) {
  if (self->state.verified(user, password, role))
    return true;
  auto rp = self->make_response_promise<bool>();
  queue_check(self, user, password, role, "admin", check_waiter{0, false, rp, true});
  return rp;
}

/// Logs the refusals counted since the last line (at most one line a second).
void registry_steps::report_refusals(registry_ptr self) {
  auto& st = self->state;
  st.refusals_scheduled = false;
  if (st.refused == 0)
    return;
  log::warning("auth overload: " + std::to_string(st.refused)
               + " login checks refused unchecked ("
               + std::to_string(st.checks.queued()) + " waiting for a hasher)");
  st.refused = 0;
}

} // namespace px
