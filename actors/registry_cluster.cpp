// Part of the registry actor (actors/registry.hpp): what the cluster needs
// from it (docs/cluster.md). The registry tells its one listener the users
// it holds after every change (coalesced), and applies replicated entries
// through its one write pipeline, like an admin's change but without the
// admin checks (a replicated delete may remove an admin; a put replaces
// roles and hash and keeps the user's local limits).
#include <caf/all.hpp>

#include "actors/registry_steps.hpp"
#include "config/users.hpp"

namespace px::registry_steps {

// The snapshot goes out right after the handler that changed the users (a
// message to itself): the changes of one handler (a whole write of the
// users file) reach the listener as one snapshot, and an acknowledged
// change leaves for the peers microseconds after its acknowledgement, so a
// kill -9 right after an ack rarely keeps it from them (a node that does
// not send it then sends it when it comes back).
void notify_users(registry_ptr self) {
  auto& st = self->state;
  if (!st.listener || st.snapshot_scheduled)
    return;
  st.snapshot_scheduled = true;
  self->send(self, users_atom_v);
}

void send_users(registry_ptr self) {
  auto& st = self->state;
  st.snapshot_scheduled = false;
  if (!st.listener)
    return;
  users_snapshot snap;
  snap.users.reserve(st.users.size());
  for (auto& kv : st.users)
    snap.users.push_back(cluster_user{kv.first, kv.second.roles, kv.second.hash});
  self->send(st.listener, std::move(snap));
}

caf::result<add_result> apply_entry(registry_ptr self, const cluster_entry& e) {
  auto& st = self->state;
  if (!config::valid_username(e.user))
    return add_result::invalid;
  if (st.pending.count(e.user))
    return add_result::busy;
  auto i = st.users.find(e.user);
  auto kind = change_kind::remove;
  if (e.deleted) {
    if (i == st.users.end()) {
      notify_users(self); // the listener confirms what is in force
      return add_result::ok;
    }
  } else {
    auto all_roles = config::role_socks | config::role_admin;
    if (!config::valid_hash(e.hash) || e.roles == 0 || (e.roles & ~all_roles) != 0)
      return add_result::invalid;
    if (i != st.users.end() && i->second.hash == e.hash && i->second.roles == e.roles) {
      notify_users(self);
      return add_result::ok;
    }
    if (i == st.users.end() && st.users.size() + st.pending.size() >= st.cfg.max_users)
      return add_result::full;
    kind = change_kind::put;
  }
  st.pending[e.user] = plain_entry(e.user, e.roles, {});
  auto rp = self->make_response_promise<add_result>();
  queue_write(self, pending_change{kind, e.user, e.roles, {}, e.hash, rp});
  return rp;
}

} // namespace px::registry_steps
