#include "actors/cluster.hpp"

#include <algorithm>
#include <utility>

#include <caf/all.hpp>

#include "net/log.hpp"

namespace px {

namespace {

/// How long a probe, a connect (TLS handshake included) and an apply may take.
constexpr auto probe_timeout = std::chrono::seconds{3};
constexpr auto connect_timeout = std::chrono::seconds{5};
constexpr auto apply_timeout = std::chrono::seconds{30};
constexpr auto save_timeout = std::chrono::seconds{30};

/// Wanted entries are retried, and digests sent, on this tick.
constexpr auto gossip_interval = std::chrono::seconds{1};

/// First pause before redialing a peer.
constexpr auto first_backoff = std::chrono::milliseconds{100};

/// The full state of this node as one message.
cluster_delta full_state(cluster_ptr self) {
  auto& st = self->state;
  return cluster_delta{st.replica.self(), true, st.replica.all()};
}

/// Writes the state file when the confirmed entries changed (one write at
/// a time; a change during a write is saved by the next one).
void save(cluster_ptr self) {
  auto& st = self->state;
  st.save_again = st.replica.take_dirty() || st.save_again;
  if (!st.save_again || st.save_busy || !st.deps.persist || st.deps.state_path.empty())
    return;
  st.save_again = false;
  st.save_busy = true;
  self->request(st.deps.persist, save_timeout, write_atom_v, st.deps.state_path,
                st.replica.save())
    .then(
      [=](const std::string& err) {
        self->state.save_busy = false;
        if (!err.empty()) {
          log::error("cluster: cannot save " + self->state.deps.state_path + ": " + err);
          self->state.save_again = true; // the next gossip tick tries again
          return;
        }
        save(self);
      },
      [=](caf::error& e) {
        log::error("cluster: no answer from the writer: " + caf::to_string(e));
        self->state.save_busy = false;
        self->state.save_again = true;
      });
}

/// Sends `msg` to every peer.
template <class T>
void broadcast(cluster_ptr self, const T& msg) {
  for (auto& h : self->state.targets())
    self->send(h, msg);
}

/// Asks the registry to apply every wanted entry not being applied. When
/// it answers, the entry is confirmed, and a newer entry that came
/// meanwhile goes next; a refused one stays wanted for the next tick.
void apply_wanted(cluster_ptr self) {
  auto& st = self->state;
  for (auto& kv : st.replica.wanted()) {
    if (st.replica.applying(kv.first))
      continue;
    st.replica.begin_apply(kv.first);
    auto entry = kv.second;
    auto done = [=](bool ok) {
      self->state.replica.finish_apply(entry, ok);
      if (ok) {
        apply_wanted(self);
        save(self);
      }
    };
    self->request(st.deps.registry, apply_timeout, apply_atom_v, entry)
      .then(
        [=](add_result r) {
          if (r != add_result::ok)
            log::debug("cluster: applying user '" + entry.user
                       + "' waits: " + to_string(r));
          done(r == add_result::ok);
        },
        [=](caf::error&) { done(false); });
  }
}

/// `who` is the peer named `node`: remembered (and monitored) if new.
void learn(cluster_ptr self, const std::string& node, const caf::actor& who) {
  auto& st = self->state;
  if (!who || node.empty() || node == st.replica.self())
    return;
  auto i = st.peers.find(node);
  if (i != st.peers.end() && i->second == who)
    return;
  st.peers[node] = who;
  self->monitor(who);
  for (auto& s : st.slots)
    if (s.handle == who || s.incoming == who)
      s.name = node;
  log::info("cluster: joined peer " + node);
}

/// Entries from a peer: merged; winners go to the registry and on to the
/// other peers (a node that lists only some peers still hears every change
/// at once; an entry that changes nothing is not passed on, so forwarding
/// ends after one round).
void on_delta(cluster_ptr self, const cluster_delta& d) {
  auto& st = self->state;
  auto from = caf::actor_cast<caf::actor>(self->current_sender());
  learn(self, d.node, from);
  std::vector<cluster_entry> won;
  for (auto& e : d.entries) {
    if (!well_formed(e)) {
      log::warning("cluster: dropped a malformed entry from " + d.node + " (user '"
                   + log::escape(e.user) + "')");
      continue;
    }
    if (st.replica.merge(e))
      won.push_back(e);
  }
  if (!won.empty()) {
    apply_wanted(self);
    cluster_delta fwd{st.replica.self(), false, std::move(won)};
    for (auto& h : st.targets())
      if (h != from)
        self->send(h, fwd);
  }
  save(self);
}

/// The registry's users: local changes are versioned, saved and sent.
void on_users(cluster_ptr self, const users_snapshot& snap) {
  auto& st = self->state;
  auto changes = st.replica.observe(snap.users);
  if (!changes.empty())
    broadcast(self, cluster_delta{st.replica.self(), false, std::move(changes)});
  save(self);
}

} // namespace

// -- membership ---------------------------------------------------------------

std::vector<caf::actor> cluster_state::targets() const {
  std::vector<caf::actor> out;
  auto add = [&out](const caf::actor& h) {
    if (h && std::find(out.begin(), out.end(), h) == out.end())
      out.push_back(h);
  };
  for (auto& s : slots)
    add(s.handle);
  for (auto& kv : peers)
    add(kv.second);
  return out;
}

std::string cluster_state::name_of(const caf::actor& who) const {
  for (auto& kv : peers)
    if (kv.second == who)
      return kv.first;
  return {};
}

namespace {

/// Dial of slot `i` failed: logged once per streak, retried after back-off.
void dial_failed(cluster_ptr self, size_t i, const std::string& why) {
  auto& s = self->state.slots[i];
  s.dialing = false;
  if (!s.failing)
    log::warning("cluster: cannot reach peer " + s.addr.text + ": " + why
                 + " (retrying)");
  s.failing = true;
  self->delayed_send(self, s.backoff, dial_atom_v, i);
  s.backoff = std::min<std::chrono::milliseconds>(s.backoff * 2, cluster_max_backoff);
}

/// Slot `i` is connected to `h`: hello and the full state go out.
void dialed(cluster_ptr self, size_t i, caf::actor h) {
  auto& st = self->state;
  auto& s = st.slots[i];
  s.dialing = false;
  s.failing = false;
  s.backoff = first_backoff;
  s.handle = h;
  self->monitor(h);
  self->send(h, cluster_hello{cluster_protocol, st.replica.self(), st.replica.clock(),
                             st.deps.listen});
  self->send(h, full_state(self));
}

/// Asks the middleman for the actor published at slot `i`'s address.
void connect(cluster_ptr self, size_t i) {
  auto& s = self->state.slots[i];
  self->request(self->state.deps.mm, connect_timeout, caf::connect_atom_v,
                s.addr.host, s.addr.port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        if (!ptr)
          dial_failed(self, i, "no cluster actor there");
        else
          dialed(self, i, caf::actor_cast<caf::actor>(std::move(ptr)));
      },
      [=](caf::error& e) { dial_failed(self, i, caf::to_string(e)); });
}

/// Dials slot `i` unless connected or dialing: a probe first (a blocking
/// connect would stall the middleman), then the middleman.
void dial(cluster_ptr self, size_t i) {
  auto& st = self->state;
  if (i >= st.slots.size() || !st.deps.mm)
    return;
  auto& s = st.slots[i];
  if (s.handle || s.incoming || s.dialing)
    return;
  if (st.deps.listen > s.addr.text && !s.deferred) {
    s.deferred = true; // the other node dials first; see cluster_dial_defer
    self->delayed_send(self, cluster_dial_defer, dial_atom_v, i);
    return;
  }
  s.dialing = true;
  if (!s.dialer)
    s.dialer = self->spawn<caf::detached + caf::linked>(cluster_dialer);
  self->request(s.dialer, probe_timeout, probe_atom_v, s.addr.host, s.addr.port)
    .then(
      [=](bool up) {
        if (up)
          connect(self, i);
        else
          dial_failed(self, i, "no answer on TCP");
      },
      [=](caf::error& e) { dial_failed(self, i, caf::to_string(e)); });
}

/// A peer's actor is gone (its node died or the connection was lost).
void on_down(cluster_ptr self, const caf::down_msg& m) {
  auto& st = self->state;
  std::string name;
  for (auto i = st.peers.begin(); i != st.peers.end();) {
    if (i->second.address() == m.source) {
      name = i->first;
      i = st.peers.erase(i);
    } else {
      ++i;
    }
  }
  for (size_t i = 0; i < st.slots.size(); ++i) {
    auto& s = st.slots[i];
    bool dialed = s.handle && s.handle.address() == m.source;
    bool incoming = s.incoming && s.incoming.address() == m.source;
    if (!dialed && !incoming)
      continue;
    s.handle = dialed ? caf::actor{} : s.handle;
    s.incoming = incoming ? caf::actor{} : s.incoming;
    s.deferred = false;
    name = name.empty() ? s.addr.text : name + " (" + s.addr.text + ")";
    self->delayed_send(self, first_backoff, dial_atom_v, i);
  }
  if (!name.empty())
    log::warning("cluster: lost peer " + name + ": " + caf::to_string(m.reason));
}

/// A peer connected: it gets the full state.
void on_hello(cluster_ptr self, const cluster_hello& h) {
  auto who = caf::actor_cast<caf::actor>(self->current_sender());
  if (h.protocol != cluster_protocol) {
    log::warning("cluster: peer " + h.node + " speaks protocol "
                 + std::to_string(h.protocol) + ", this node "
                 + std::to_string(cluster_protocol) + ": ignored");
    return;
  }
  auto& st = self->state;
  for (auto& s : st.slots)
    if (who && !h.listen.empty() && s.addr.text == h.listen && s.incoming != who) {
      s.incoming = who;
      self->monitor(who);
    }
  learn(self, h.node, who);
  if (who)
    self->send(who, full_state(self));
}

/// Every second: wanted entries again; every other second, digests.
void gossip(cluster_ptr self) {
  auto& st = self->state;
  apply_wanted(self);
  save(self); // after a failed write
  if (++st.ticks % 2 == 0)
    broadcast(self, st.replica.digest());
  self->delayed_send(self, gossip_interval, gossip_atom_v);
}

} // namespace

namespace {

/// The behavior once the registry's users are known.
caf::behavior serving(cluster_ptr self) {
  return {
    [=](const cluster_hello& h) { on_hello(self, h); },
    [=](const cluster_delta& d) { on_delta(self, d); },
    [=](const cluster_digest& d) {
      auto who = caf::actor_cast<caf::actor>(self->current_sender());
      learn(self, d.node, who);
      auto mine = self->state.replica.digest();
      if (who && (mine.count != d.count || mine.hash != d.hash))
        self->send(who, full_state(self));
    },
    [=](const users_snapshot& snap) { on_users(self, snap); },
    [=](dial_atom, size_t i) { dial(self, i); },
    [=](gossip_atom) { gossip(self); },
    [=](nmetrics_atom) {
      auto rp = self->make_response_promise<node_metrics>();
      local_metrics(self, rp);
      return rp;
    },
    [=](cmetrics_atom) {
      auto rp = self->make_response_promise<cluster_metrics>();
      cluster_wide_metrics(self, rp);
      return rp;
    },
    [=](nsetting_atom, uint8_t kind, const std::string& value) {
      auto rp = self->make_response_promise<uint8_t>();
      apply_setting(self, kind, value, rp);
      return rp;
    },
    [=](csetting_atom, uint8_t kind, const std::string& value) {
      auto rp = self->make_response_promise<cluster_applied>();
      apply_setting_everywhere(self, kind, value, rp);
      return rp;
    },
  };
}

} // namespace

// Two phases: until the registry's first users_snapshot, every other
// message waits in the mailbox (a peer's entry must be compared with the
// users this node holds, never with an empty replica); then serving.
caf::behavior cluster(cluster_ptr self, cluster_deps deps) {
  auto& st = self->state;
  st.replica = std::move(deps.replica);
  st.deps = std::move(deps);
  for (auto& p : st.deps.peers)
    st.slots.push_back(cluster_slot{p, {}, {}, false, {}, false, false, first_backoff, {}});
  self->set_down_handler([=](caf::down_msg& m) { on_down(self, m); });
  self->set_default_handler(caf::skip);
  self->send(st.deps.registry, caf::actor_cast<users_listener>(self));
  return {
    [=](const users_snapshot& snap) {
      on_users(self, snap);
      self->set_default_handler(caf::print_and_drop);
      self->become(serving(self));
      for (size_t i = 0; i < self->state.slots.size(); ++i)
        dial(self, i);
      self->delayed_send(self, gossip_interval, gossip_atom_v);
    },
  };
}

} // namespace px
