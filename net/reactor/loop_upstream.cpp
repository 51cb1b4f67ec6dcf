// The loop core's sequencing of a CONNECT through parent proxies: connect
// to each parent of the route in turn (the connector, one address each),
// run its handshake (upstream_io), fail over to the next parent when one is
// down or fails itself, all within the plan's connect timeout; then the
// success reply and the relay, as for a direct CONNECT. A parent's verdict
// on the target (its REP, an HTTP status) is the answer, told truthfully.
//
// A UDP ASSOCIATE through parents goes the same way with SOCKS5 parents
// only (an HTTP parent cannot carry UDP): our UDP ASSOCIATE names the
// socket our relay sends from, the parent's BND is where its relay waits,
// and the control connection to the parent lives as long as the client's.
// Any failure of a parent there is its own: the next one is tried.
// Part of class loop.
#include <cerrno>

#include "net/log.hpp"
#include "net/reactor/errors.hpp"
#include "net/reactor/loop.hpp"
#include "net/reactor/outbound.hpp"

namespace px::net {

namespace {

/// A parent is configured, not asked for: the rules do not check it.
const rule_subject unchecked_parent;

} // namespace

/// Starts `req` through parents when its route says so; false: direct.
bool loop::start_via(conn& c, const socks5::request& req) {
  auto& set = c.plan->upstream;
  auto route = choose_route(set.get(), c.who, c.login.user.get(), req);
  if (route == nullptr)
    return false;
  begin_via(c, set, route);
  return true;
}

/// Starts the UDP association of `c` (its relay made) through parents
/// when its route says so, the client-facing socket on `local`; false:
/// direct.
bool loop::start_udp_via(conn& c, const ip_endpoint& local) {
  socks5::request req;
  req.cmd = socks5::command::udp_associate;
  req.dst = c.target;
  auto& set = c.plan->upstream;
  auto route = choose_route(set.get(), c.who, c.login.user.get(), req);
  if (route == nullptr)
    return false;
  if (!c.udp->open_client(local)) {
    connect_failed(c, from_errno(errno));
    return true;
  }
  begin_via(c, set, route);
  return true;
}

void loop::begin_via(conn& c, const std::shared_ptr<const upstream_set>& set,
                     const parent_route* route) {
  c.state = cstate::connecting;
  c.via.set = set;
  c.via.route = route;
  c.via.next = 0;
  c.via.last = connect_error::none;
  c.via.until = ctx_.now + c.plan->connect_timeout;
  next_parent(c);
}

/// Tries the next parent of the route, with its share of the time left
/// (a parent that does not answer leaves time for the others).
void loop::next_parent(conn& c) {
  auto& v = c.via;
  auto& parents = v.set->parents();
  while (c.udp && v.next < v.route->size()
         && parents[(*v.route)[v.next]].kind == parent_kind::http) {
    ++v.next; // HTTP CONNECT carries no datagrams
    if (v.last == connect_error::none)
      v.last = connect_error::command_unsupported;
  }
  if (v.next >= v.route->size() || ctx_.now >= v.until) {
    via_failed(c, v.last == connect_error::none ? connect_error::timeout : v.last);
    return;
  }
  auto left = static_cast<long>(v.route->size() - v.next);
  v.current = &parents[(*v.route)[v.next++]];
  c.state = cstate::connecting;
  c.remote = v.current->address; // the close report names the parent (by
                                 // name: no address until one answers)
  c.parent = v.current->name;
  auto gen = ++c.op_gen;
  ctx_.timers.arm(ctx_.now + (v.until - ctx_.now) / left, c.id, gen,
                  deadline_kind::operation);
  // The way to a parent leaves as any outgoing connection of this user
  // does: under its outbound profile (source address, device, mark).
  const outbound_profile* profile = nullptr;
  if (!outbound_of(c, profile)) {
    via_failed(c, connect_error::other);
    return;
  }
  if (v.current->host.empty()) {
    connect_parent(c, {v.current->address}, profile);
    return;
  }
  // A parent by name: our resolver, then every address it has (a late
  // family joins the race, as for a target).
  auto id = c.id;
  ctx_.dns.resolve(
    v.current->host, true,
    [this, id, gen](resolve_result res) { on_parent_resolved(id, gen, std::move(res)); },
    [this, id, gen](resolve_result res) {
      on_parent_resolved_late(id, gen, std::move(res));
    });
}

void loop::on_parent_resolved(conn_id id, uint32_t gen, resolve_result res) {
  auto c = find(id);
  if (!c || c->state != cstate::connecting || !c->via.active() || c->op_gen != gen)
    return; // the parent's time ran out, or the client went
  if (res.err != connect_error::none) {
    parent_failed(*c, res.err);
    return;
  }
  for (auto& a : res.addrs)
    a.port = c->via.current->address.port;
  const outbound_profile* profile = nullptr;
  outbound_of(*c, profile); // an unknown profile failed before the lookup
  connect_parent(*c, std::move(res.addrs), profile, res.partial);
}

void loop::on_attempts(conn& c, const connect_outcome& out) {
  if (c.via.active())
    on_parent_connect(c, out);
  else
    on_connect(c, out);
}

void loop::on_parent_resolved_late(conn_id id, uint32_t gen, resolve_result res) {
  auto c = find(id);
  if (!c || c->state != cstate::connecting || !c->via.active() || c->op_gen != gen)
    return; // connected, failed over or gone meanwhile
  for (auto& a : res.addrs)
    a.port = c->via.current->address.port;
  on_parent_connect(*c, c->connect_op.add(std::move(res.addrs), unchecked_parent, {},
                                          c->up, ctx_));
}

void loop::connect_parent(conn& c, std::vector<ip_endpoint> addrs,
                          const outbound_profile* profile, bool more) {
  on_parent_connect(c, c.connect_op.start(std::move(addrs), unchecked_parent, {}, c.up,
                                          ctx_, c.plan->connect, profile, more));
}

void loop::on_parent_connect(conn& c, const connect_outcome& out) {
  switch (out.status) {
    case connect_status::pending:
      if (out.next_attempt != time_point{}) // a parent's next address (Happy Eyeballs)
        ctx_.timers.arm(out.next_attempt, c.id, c.op_gen, deadline_kind::attempt);
      return;
    case connect_status::failed:
      parent_failed(c, out.err);
      return;
    case connect_status::connected:
      break;
  }
  c.remote = out.remote; // the parent's address that answered
  c.state = cstate::via_handshake;
  if (!c.udp) {
    c.via.io.start(*c.via.current, c.target);
    via_step(c);
    return;
  }
  // Our relay's socket towards the parent, under the same profile as the
  // control connection; the parent is told where our datagrams come from.
  const outbound_profile* profile = nullptr;
  outbound_of(c, profile); // an unknown profile failed before the connect
  auto near = ip_endpoint::local_of(c.up.fd);
  auto mine = near ? c.udp->open_via(c.remote, *near, profile)
                   : std::nullopt;
  if (!mine) {
    parent_failed(c, from_errno(errno));
    return;
  }
  c.via.io.start(*c.via.current, socks5::address::from(*mine),
                 socks5::command::udp_associate);
  via_step(c);
}

void loop::via_step(conn& c) {
  auto out = c.via.io.step(c.up, ctx_.settings.chunk_size);
  switch (out.status) {
    case upstream_status::pending:
      return;
    case upstream_status::done:
      via_succeeded(c);
      return;
    case upstream_status::failed:
      if (out.parent_fault || c.udp) // no target yet: the parent's own
        parent_failed(c, out.err);
      else
        via_failed(c, out.err); // the parent's verdict on the target
      return;
  }
}

/// The parent being tried is down or failed itself: the next one.
void loop::parent_failed(conn& c, connect_error err) {
  auto& p = *c.via.current;
  log::warning("parent '" + p.name + "' (" + to_string(p) + ") failed: " + to_string(err));
  c.via.last = err;
  c.up.close();
  next_parent(c);
}

void loop::via_failed(conn& c, connect_error err) {
  c.via = via_state{};
  if (c.udp) {
    c.udp->close();
    c.udp.reset();
  }
  connect_failed(c, err);
}

void loop::via_succeeded(conn& c) {
  if (c.udp) {
    udp_via_ready(c);
    return;
  }
  ++c.op_gen; // cancels the deadline
  auto early = c.via.io.take_early();
  c.via = via_state{};
  c.state = cstate::connected;
  c.connect = connect_result::succeeded;
  c.connected_at = ctx_.now;
  ++ctx_.traffic.connects_ok;
  // The reply names our address towards the parent; what the target sent
  // after the parent's reply is the target's first data (transformed and
  // counted like the rest).
  auto local = ip_endpoint::local_of(c.up.fd).value_or(ip_endpoint{});
  auto reply = socks5::encode_reply(socks5::reply::succeeded, socks5::address::from(local));
  auto plan = c.plan; // begin_relay drops the connection's reference
  begin_relay(c, std::move(reply), {}, plan->relay, false, std::move(early));
}

/// The parent's relay is ready: ours relays to it, and the owner answers
/// the client as for a direct association.
void loop::udp_via_ready(conn& c) {
  auto& bnd = c.via.io.bound();
  if (bnd.type == socks5::atyp::domain) { // a name for its relay: not usable
    parent_failed(c, connect_error::address_unsupported);
    return;
  }
  ++c.op_gen; // cancels the deadline
  // BND 0.0.0.0 (or ::): the relay waits at the parent's own address.
  auto relay = bnd.ip;
  if (relay.is_unspecified()) {
    relay = c.remote;
    relay.port = bnd.ip.port;
  }
  if (relay.v6 != c.remote.v6) {
    // Our socket towards the parent was opened, and named in the request,
    // in the family of the control connection: it cannot reach this relay.
    parent_failed(c, connect_error::address_unsupported);
    return;
  }
  c.udp->set_parent_relay(relay);
  c.via = via_state{};
  c.state = cstate::connected;
  c.handler->on_connected(c.id, c.udp->client_side(), c.udp->expected());
}

} // namespace px::net
