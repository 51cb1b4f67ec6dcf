// The loop core's sequencing of a connection's jobs: each module returns an
// outcome, and these functions decide what follows (handshake -> request ->
// DNS -> connect -> relay; BIND; UDP ASSOCIATE). Part of class loop.
#include <cstring>

#include <sys/epoll.h>

#include "net/log.hpp"
#include "net/reactor/errors.hpp"
#include "net/reactor/loop.hpp"
#include "net/reactor/outbound.hpp"
#include "net/reactor/rule_checks.hpp"

namespace px::net {

bool loop::outbound_of(const conn& c, const outbound_profile*& p) {
  auto table = c.plan ? c.plan->outbound.get() : nullptr;
  if (table != nullptr && c.has_target) {
    // A pass rule's outbound= (or a via= naming a profile) comes first.
    auto r = routing_rule(c.who, socks5::request{c.command, c.target});
    auto name = r == nullptr ? nullptr : !r->outbound.empty() ? &r->outbound : &r->via;
    if (name != nullptr && !name->empty()) {
      if (auto q = table->named.find(*name); q != table->named.end()) {
        p = &q->second;
        return true;
      }
    }
  }
  bool unknown = false;
  p = pick_outbound(table, c.login.user.get(), unknown);
  if (unknown)
    log::warning("user '" + c.login.user->name() + "' names outbound profile '"
                 + *c.login.user->outbound() + "', which the config lacks");
  return !unknown;
}

// -- handshake ----------------------------------------------------------------

/// Writes pending output; false once the connection is closed (a write
/// failed, or the output was written with after::close).
bool loop::flush_out(conn& c) {
  switch (flush(c.down, c.out)) {
    case flush_status::pending:
    case flush_status::flushed:
      return true;
    case flush_status::close:
      close_conn(c, c.out.why);
      return false;
    case flush_status::error:
      close_conn(c, close_reason::client_gone);
      return false;
  }
  return true;
}

/// Runs the handshake engine under the plan until the owner must decide or
/// the client must send more.
void loop::drive_handshake(conn& c) {
  if (!flush_out(c) || c.state != cstate::handshake || !c.plan)
    return;
  for (;;) {
    auto a = c.engine.advance(c.in.data(), c.in.size(), c.out.bytes);
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<long>(a.consumed));
    if (!flush_out(c))
      return;
    switch (a.kind) {
      case hs_action::need_more:
        switch (read_more(c.down, c.in, ctx_.settings.chunk_size)) {
          case read_status::got:
            continue;
          case read_status::eof:
          case read_status::gone:
            close_conn(c, close_reason::client_gone);
            return;
          case read_status::none:
            return;
        }
        return;
      case hs_action::credentials:
        c.who.user = a.creds.user; // the rules see it once it is granted
        if (!c.handler->on_credentials(c.id, std::move(a.creds), c.login))
          return; // the owner answers with `authenticated`
        take_login(c, std::move(c.login));
        c.engine.authenticated(true, c.out.bytes);
        continue;
      case hs_action::request:
        on_request(c, std::move(a.req));
        return;
      case hs_action::failed:
        c.handler->on_handshake_failed(c.id, a.stage, a.error);
        return;
      case hs_action::idle:
        // A client that leaves while its login is checked frees its slot
        // and descriptor now, not when the check ends.
        if (c.engine.step() == hs_step::authenticating && peer_gone(c.down, !c.in.empty()))
          close_conn(c, close_reason::client_gone);
        return;
    }
  }
}

/// The login of `c` is granted under `grant`: the rules see the user's
/// groups, the relay its buckets.
void loop::take_login(conn& c, login_grant grant) {
  c.login = std::move(grant);
  if (c.login.user)
    c.who.groups = *c.login.user->groups();
}

void loop::do_authenticated(conn_id id, bool ok, login_grant grant) {
  auto c = find(id);
  if (!c || c->state != cstate::handshake || c->engine.step() != hs_step::authenticating)
    return;
  if (ok)
    take_login(*c, std::move(grant));
  if (!c->engine.authenticated(ok, c->out.bytes))
    c->out.then = after::close;
  process(*c);
}

void loop::do_send(conn_id id, std::vector<uint8_t> bytes, after next) {
  auto c = find(id);
  if (!c || c->state == cstate::relaying || c->state == cstate::connecting
      || c->state == cstate::via_handshake || c->state == cstate::udp_relaying)
    return;
  c->out.add(bytes);
  c->out.then = next;
  process(*c);
}

void loop::on_request(conn& c, socks5::request req) {
  c.has_target = true;
  c.command = req.cmd;
  c.requested_at = ctx_.now;
  c.target = req.dst;
  if (request_blocked(c.who, req, ctx_.traffic)) {
    connect_failed(c, connect_error::denied); // the owner answers REP 0x02
    return;
  }
  if (req.cmd == socks5::command::connect && start_via(c, req))
    return; // through a parent proxy (loop_upstream.cpp)
  if (req.cmd == socks5::command::connect)
    start_connect(c, req.dst);
  else
    c.handler->on_request(c.id, std::move(req));
}

// -- CONNECT ------------------------------------------------------------------

/// A CONNECT under the plan: DNS when needed, then each address in turn,
/// all within the plan's connect timeout.
void loop::start_connect(conn& c, const socks5::address& target) {
  c.state = cstate::connecting;
  const outbound_profile* profile = nullptr;
  if (!outbound_of(c, profile)) {
    connect_failed(c, connect_error::other);
    return;
  }
  auto gen = ++c.op_gen;
  ctx_.timers.arm(ctx_.now + c.plan->connect_timeout, c.id, gen,
                  deadline_kind::operation);
  if (target.type == socks5::atyp::domain) {
    resolve_for(c, target.domain);
    return;
  }
  // An address was checked whole with the request: no second check.
  static const rule_subject checked;
  on_connect(c, c.connect_op.start({target.ip}, checked, {}, c.up, ctx_,
                                   c.plan->connect, profile));
}

void loop::resolve_for(conn& c, const std::string& name) {
  auto id = c.id;
  auto gen = c.op_gen;
  auto done = [this, id, gen](resolve_result res) { on_resolved(id, gen, std::move(res)); };
  if (c.state != cstate::connecting) { // BIND: the peer's addresses, all at once
    ctx_.dns.resolve(name, true, std::move(done));
    return;
  }
  // A CONNECT races the family that came first, and the other joins when
  // its answer comes (RFC 8305 section 3).
  ctx_.dns.resolve(name, true, std::move(done), [this, id, gen](resolve_result res) {
    on_resolved_late(id, gen, std::move(res));
  });
}

void loop::on_resolved_late(conn_id id, uint32_t gen, resolve_result res) {
  auto c = find(id);
  if (!c || c->state != cstate::connecting || c->op_gen != gen)
    return; // connected, failed or gone meanwhile
  for (auto& a : res.addrs)
    a.port = c->target.port();
  on_connect(*c, c->connect_op.add(std::move(res.addrs), c->who, c->target.domain,
                                   c->up, ctx_));
}

void loop::on_resolved(conn_id id, uint32_t gen, resolve_result res) {
  auto c = find(id);
  if (!c || (c->state != cstate::connecting && c->state != cstate::binding)
      || c->op_gen != gen)
    return;
  if (res.err != connect_error::none) {
    connect_failed(*c, res.err);
    return;
  }
  if (c->state == cstate::binding) {
    c->bind.expect(std::move(res.addrs));
    bind_listen(*c);
    return;
  }
  for (auto& a : res.addrs)
    a.port = c->target.port();
  const outbound_profile* profile = nullptr;
  outbound_of(*c, profile); // an unknown profile failed the request already
  on_connect(*c, c->connect_op.start(std::move(res.addrs), c->who,
                                     c->target.domain, c->up, ctx_,
                                     c->plan->connect, profile, res.partial));
}

void loop::on_connect(conn& c, const connect_outcome& out) {
  switch (out.status) {
    case connect_status::pending:
      if (out.next_attempt != time_point{})
        ctx_.timers.arm(out.next_attempt, c.id, c.op_gen, deadline_kind::attempt);
      return;
    case connect_status::failed:
      connect_failed(c, out.err);
      return;
    case connect_status::connected:
      break;
  }
  ++c.op_gen; // cancels the deadline
  c.state = cstate::connected;
  c.remote = out.remote;
  c.connect = connect_result::succeeded;
  c.connected_at = ctx_.now;
  ++ctx_.traffic.connects_ok;
  // The success reply names our address towards the target, and the relay
  // starts at once.
  auto plan = c.plan; // begin_relay drops the connection's reference
  begin_relay(c,
              socks5::encode_reply(socks5::reply::succeeded,
                                   socks5::address::from(out.local)),
              {}, plan->relay, true);
}

void loop::connect_failed(conn& c, connect_error err) {
  if (c.state == cstate::connecting && !c.udp) { // a CONNECT (not BIND or UDP)
    c.connect = connect_result::failed;
    c.connected_at = ctx_.now;
  }
  ++c.op_gen;
  c.connect_op.abort();
  c.up.close();
  c.state = cstate::handshake; // the owner now sends a reply and closes
  c.handler->on_connect_failed(c.id, err);
}

// -- BIND and UDP ASSOCIATE ---------------------------------------------------

void loop::do_bind(conn_id id, bind_request req) {
  auto c = find(id);
  if (!c || c->state != cstate::handshake)
    return;
  c->state = cstate::binding;
  auto gen = ++c->op_gen;
  ctx_.timers.arm(ctx_.now + req.timeout, id, gen, deadline_kind::operation);
  if (req.peer.type == socks5::atyp::domain) {
    resolve_for(*c, req.peer.domain);
    return;
  }
  std::vector<ip_endpoint> hosts;
  if (!req.peer.ip.is_unspecified())
    hosts.push_back(req.peer.ip);
  c->bind.expect(std::move(hosts));
  bind_listen(*c);
}

/// BIND's listener, under the connection's outbound profile.
void loop::bind_listen(conn& c) {
  const outbound_profile* profile = nullptr;
  if (!outbound_of(c, profile)) {
    connect_failed(c, connect_error::other);
    return;
  }
  on_bind(c, c.bind.listen(c.down.fd, profile, c.up, ctx_));
}

void loop::on_bind(conn& c, const bind_outcome& out) {
  switch (out.status) {
    case bind_status::pending:
      return;
    case bind_status::failed:
      connect_failed(c, out.err);
      return;
    case bind_status::bound:
      c.handler->on_bound(c.id, out.local);
      return;
    case bind_status::accepted:
      if (bind_peer_blocked(c.who, out.peer, ctx_.traffic)) {
        connect_failed(c, connect_error::denied); // closes the peer too
        return;
      }
      ++c.op_gen; // cancels the deadline
      c.state = cstate::connected;
      c.handler->on_connected(c.id, out.local, out.peer);
      return;
  }
}

void loop::do_udp_associate(conn_id id, udp_request req) {
  auto c = find(id);
  if (!c || c->state != cstate::handshake)
    return;
  auto local = ip_endpoint::local_of(c->down.fd);
  auto peer = ip_endpoint::peer_of(c->down.fd);
  if (!local || !peer) {
    connect_failed(*c, connect_error::other);
    return;
  }
  // Zeros in the request: the client sends from the control connection's
  // address (any port, unless it named one).
  auto expect = req.client_hint;
  if (expect.is_unspecified()) {
    auto port = expect.port;
    expect = *peer;
    expect.port = port;
  }
  const outbound_profile* profile = nullptr;
  if (!outbound_of(*c, profile)) {
    connect_failed(*c, connect_error::other);
    return;
  }
  c->udp = std::make_shared<udp_relay>(ctx_, c->idle, expect, c->who);
  c->udp->set_user(c->login.user.get());
  if (start_udp_via(*c, *local))
    return; // through a parent proxy (loop_upstream.cpp)
  auto bound = c->udp->open(*local, profile);
  if (!bound) {
    connect_failed(*c, from_errno(errno));
    return;
  }
  c->state = cstate::connected;
  c->handler->on_connected(id, *bound, expect);
}

/// The TCP control connection of a UDP association: bytes are discarded;
/// its end ends the association. So does the end of the control connection
/// to a parent that relays the association.
void loop::udp_control(conn& c) {
  if (!flush_out(c))
    return;
  if (c.up.fd >= 0) {
    switch (discard(c.up)) {
      case read_status::eof:
        close_conn(c, close_reason::done);
        return;
      case read_status::gone:
        close_conn(c, close_reason::upstream_error);
        return;
      case read_status::got:
      case read_status::none:
        break;
    }
  }
  switch (discard(c.down)) {
    case read_status::eof:
      close_conn(c, close_reason::done);
      return;
    case read_status::gone:
      close_conn(c, close_reason::client_gone);
      return;
    case read_status::got:
    case read_status::none:
      return;
  }
}

// -- relay --------------------------------------------------------------------

void loop::do_start_relay(conn_id id, std::vector<uint8_t> to_client,
                          std::vector<uint8_t> to_upstream, relay_options opts) {
  auto c = find(id);
  if (!c || c->state != cstate::connected)
    return;
  begin_relay(*c, std::move(to_client), std::move(to_upstream), opts, false);
}

/// `flags_exact`: the readiness flags of both sockets are known (a CONNECT
/// under a plan); otherwise the first pass tries every socket once.
void loop::begin_relay(conn& c, std::vector<uint8_t> to_client,
                       std::vector<uint8_t> to_upstream, const relay_options& opts,
                       bool flags_exact, std::vector<uint8_t> from_target) {
  // What the client sent right after its request goes first.
  if (!c.in.empty() && !c.udp)
    to_upstream.insert(to_upstream.begin(), c.in.begin(), c.in.end());
  std::vector<uint8_t>{}.swap(c.in);
  c.plan.reset();
  ctx_.timers.idle_start(c.idle, ctx_.now, opts.idle_timeout);
  if (c.udp) {
    c.state = cstate::udp_relaying;
    c.out.add(to_client);
    c.out.then = after::hold;
    c.down.rd = c.down.wr = true;
    process(c);
    if (!c.closed)
      c.udp->start();
    return;
  }
  if (!opts.transform.empty() && !start_program(c, opts.transform)) {
    // The client is told: a general failure instead of the success reply.
    log::warning("transformation program could not start: "
                 + std::string{std::strerror(errno)});
    ctx_.timers.idle_stop(c.idle);
    c.state = cstate::handshake;
    c.out.add(socks5::encode_reply(socks5::reply::general_failure, socks5::address{}));
    c.out.then = after::close;
    c.out.why = close_reason::transform_failed;
    process(c);
    return;
  }
  c.state = cstate::relaying;
  c.rel.start(c.down, c.up, c.program.get(), opts, ctx_, c.login.user.get());
  // Pending handshake output goes out before the reply.
  auto first = c.out.take();
  first.insert(first.end(), to_client.begin(), to_client.end());
  c.rel.set_prefixes(std::move(first), std::move(to_upstream), std::move(from_target));
  if (!flags_exact)
    c.down.rd = c.down.wr = c.up.rd = c.up.wr = true;
  process(c);
}

/// Starts the transformation program of `c`; false with errno set.
bool loop::start_program(conn& c, const std::string& cmd) {
  auto p = std::make_unique<transform_proc>();
  if (!p->spawn(cmd, &c))
    return false;
  ctx_.watch(p->input.fd, EPOLLOUT | EPOLLET, p->input);
  ctx_.watch(p->output.fd, EPOLLIN | EPOLLET, p->output);
  p->input.wr = true;
  p->output.rd = true;
  c.program = std::move(p);
  return true;
}

void loop::relay_step(conn& c) {
  auto out = c.rel.step(ctx_);
  switch (out.status) {
    case relay_status::failed:
      close_conn(c, out.reason);
      return;
    case relay_status::done:
      close_conn(c, close_reason::done);
      return;
    case relay_status::active:
      ctx_.timers.idle_touch(c.idle, ctx_.now);
      break;
    case relay_status::idle:
      break;
  }
  if (out.input_closed)
    ctx_.timers.arm(ctx_.now + transform_drain_timeout, c.id, 0, deadline_kind::drain);
  if (out.resume != time_point{} && (c.resume_at == time_point{} || out.resume < c.resume_at)) {
    // A user's bandwidth is used up: read again when the bucket has refilled.
    c.resume_at = out.resume;
    ctx_.timers.arm(out.resume, c.id, 0, deadline_kind::bandwidth);
    ++ctx_.traffic.bandwidth_waits;
  }
}

} // namespace px::net
