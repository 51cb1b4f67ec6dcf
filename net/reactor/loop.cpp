#include "net/reactor/loop.hpp"

#include <algorithm>
#include <cstring>

#include <sys/epoll.h>
#include <unistd.h>

#include "net/log.hpp"

namespace px::net {

namespace {

/// The loop index sits in the top 8 bits of a conn_id.
constexpr int loop_shift = 56;

/// Clients one listener event accepts at most (then other events run).
constexpr int accept_burst = 32;

} // namespace

size_t loop::index_of(conn_id id) {
  return static_cast<size_t>(id >> loop_shift);
}

struct loop::wake_handler final : io_handler {
  task_queue* queue;
  explicit wake_handler(task_queue* q) : queue(q) {
  }
  void on_io(uint32_t) override {
    queue->run();
  }
};

struct loop::listener_watch final : io_handler {
  loop* core;
  listener* l;
  listener_watch(loop* c, listener* x) : core(c), l(x) {
  }
  void on_io(uint32_t) override {
    core->accept_from(*l);
  }
};

void conn::on_side_ready() {
  if (!closed)
    core->process(*this);
}

loop::loop(size_t index, const reactor_config& cfg, traffic_sink traffic)
  : index_(index),
    cfg_(cfg),
    ep_(epoll_create1(EPOLL_CLOEXEC)),
    wake_(std::make_unique<wake_handler>(&tasks_)),
    ctx_(ep_, cfg.dns_servers, cfg.pipe_pool,
         loop_settings{cfg.chunk_size, cfg.splice_after}),
    reporter_(ctx_.traffic, std::move(traffic), cfg.close_batch, cfg.close_delay) {
  ctx_.watch(tasks_.fd(), EPOLLIN, *wake_);
}

loop::~loop() {
  for (auto& kv : conns_)
    release_fds(*kv.second);
  conns_.clear();
  graveyard_.clear();
  ::close(ep_);
}

void loop::start() {
  thread_ = std::thread([this] { run(); });
}

void loop::stop() {
  post([this] { running_ = false; });
  if (thread_.joinable())
    thread_.join();
}

// -- main loop ----------------------------------------------------------------

int loop::wait_ms() {
  // Rounded up: a deadline less than a millisecond away must not turn into
  // epoll_wait(0) calls that spin until it is due.
  auto until = [&](time_point t) {
    return std::chrono::ceil<std::chrono::milliseconds>(t - ctx_.now);
  };
  auto wait = until(next_tick_);
  if (auto t = ctx_.timers.next())
    wait = std::min(wait, until(*t));
  if (auto t = reporter_.next_due())
    wait = std::min(wait, until(*t));
  if (auto t = ctx_.dns.next_timeout())
    wait = std::min(wait, *t);
  return static_cast<int>(std::max<long>(0, wait.count()));
}

void loop::run() {
  auto clock = cfg_.clock ? cfg_.clock : [] { return clock_type::now(); };
  register_listeners();
  ctx_.now = clock();
  next_tick_ = ctx_.now + cfg_.traffic_interval;
  epoll_event events[256];
  while (running_) {
    int n = epoll_wait(ep_, events, 256, wait_ms());
    ctx_.now = clock();
    for (int i = 0; i < n; ++i)
      static_cast<io_handler*>(events[i].data.ptr)->on_io(events[i].events);
    ctx_.dns.process_timeouts();
    run_deadlines();
    reporter_.deliver_due(ctx_.now);
    if (ctx_.now >= next_tick_) {
      next_tick_ = ctx_.now + cfg_.traffic_interval;
      on_tick();
    }
    graveyard_.clear();
    ctx_.dns.end_batch();
  }
  do_close_all();
  reporter_.deliver_all();
  reporter_.flush_traffic();
  graveyard_.clear();
  ctx_.children.reap_all();
}

/// Every traffic interval: idle connections, counters, paused accepts,
/// exited programs.
void loop::on_tick() {
  idle_due_.clear();
  ctx_.timers.take_idle(ctx_.now, idle_due_);
  for (auto id : idle_due_)
    if (auto c = find(id))
      close_conn(*c, close_reason::idle_timeout);
  reporter_.flush_traffic();
  if (accept_paused_) {
    accept_paused_ = false;
    register_listeners();
  }
  if (!ctx_.children.empty())
    ctx_.children.reap();
}

void loop::run_deadlines() {
  due_.clear();
  ctx_.timers.take_due(ctx_.now, due_);
  for (auto& d : due_) {
    auto c = find(d.id);
    if (!c)
      continue;
    switch (d.kind) {
      case deadline_kind::handshake:
        if (c->state == cstate::handshake && c->engine.step() != hs_step::done)
          close_conn(*c, close_reason::handshake_timeout);
        break;
      case deadline_kind::operation:
        if (c->op_gen != d.gen)
          break;
        if (c->via.active()) // a parent's attempt: the next one, if any
          parent_failed(*c, connect_error::timeout);
        else if (c->state == cstate::binding)
          connect_failed(*c, connect_error::timeout);
        else if (c->state == cstate::connecting) {
          auto err = c->connect_op.failed_so_far();
          connect_failed(*c, err == connect_error::none ? connect_error::timeout : err);
        }
        break;
      case deadline_kind::drain:
        // The program did not finish its output after its input ended.
        if (c->state == cstate::relaying && !c->rel.output_done())
          close_conn(*c, close_reason::transform_failed);
        break;
      case deadline_kind::attempt:
        // Happy Eyeballs: no answer within the attempt delay.
        if (c->state == cstate::connecting && c->op_gen == d.gen)
          on_attempts(*c, c->connect_op.on_timer(c->up, ctx_));
        break;
      case deadline_kind::bandwidth:
        if (c->state == cstate::relaying && c->resume_at <= d.when) {
          c->resume_at = {};
          relay_step(*c);
        }
        break;
    }
  }
}

// -- listeners and admission --------------------------------------------------

void loop::register_listeners() {
  listener_watches_.clear(); // (re)registration happens between event batches
  for (auto l : listeners_) {
    listener_watches_.push_back(std::make_unique<listener_watch>(this, l));
    ctx_.watch(l->fd_for(index_), EPOLLIN | EPOLLEXCLUSIVE, *listener_watches_.back());
  }
}

void loop::do_remove_listeners() {
  for (auto l : listeners_)
    ctx_.unwatch(l->fd_for(index_));
  listeners_.clear();
}

void loop::pause_accepting() {
  // Level-triggered: the listener would wake us again at once. Stop
  // listening on this loop until the next tick, and say it once.
  if (!accept_paused_)
    log::warning(std::string{"accept: "} + std::strerror(errno)
                 + " (raise the open-file limit); pausing accepts");
  accept_paused_ = true;
  for (auto l : listeners_)
    ctx_.unwatch(l->fd_for(index_));
}

void loop::accept_from(listener& l) {
  for (int i = 0; i < accept_burst; ++i) {
    auto a = accept_one(l, index_);
    if (a.status == accept_status::exhausted)
      pause_accepting();
    if (a.status != accept_status::accepted)
      return;
    auto c = std::make_unique<conn>();
    c->id = (static_cast<conn_id>(index_) << loop_shift) | ++seq_;
    c->core = this;
    c->accepted_at = ctx_.now;
    c->down.fd = a.fd;
    c->down.wr = true; // a new socket's send buffer is empty
    c->down.owner = c->up.owner = c.get();
    c->idle.id = c->id;
    c->who.client = a.peer;
    ctx_.watch(a.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, c->down);
    auto& cr = *c;
    conns_.emplace(cr.id, std::move(c));
    count_.fetch_add(1, std::memory_order_relaxed);
    auto adm = l.handler->on_accepted(cr.id, a.peer, l.addr);
    switch (adm.what) {
      case admission::verdict::refuse:
        close_conn(cr, close_reason::requested);
        break;
      case admission::verdict::own:
        // Deferred accept: the greeting is most likely there already (if
        // the deferral ran out without data, one read says EAGAIN).
        cr.down.rd = l.deferred;
        cr.source = std::move(adm.source);
        own(cr, std::move(adm.handler), std::move(adm.plan));
        break;
      case admission::verdict::defer:
        break;
    }
  }
}

conn* loop::find(conn_id id) {
  auto i = conns_.find(id);
  return i != conns_.end() ? i->second.get() : nullptr;
}

void loop::do_handshake(conn_id id, std::shared_ptr<conn_handler> h,
                        handshake_plan plan) {
  auto c = find(id);
  if (!c) {
    ++ctx_.traffic.owned;
    close_stats stats;
    stats.reason = close_reason::requested;
    stats.closed_at = ctx_.now;
    reporter_.closed(std::move(h), id, std::move(stats), ctx_.now);
    return;
  }
  if (c->state != cstate::accepted)
    return;
  own(*c, std::move(h), std::make_shared<const handshake_plan>(std::move(plan)));
}

/// `h` owns `c` from now on; its handshake runs under `plan`. The read
/// flags are exact: the socket has been registered since its accept.
void loop::own(conn& c, std::shared_ptr<conn_handler> h,
               std::shared_ptr<const handshake_plan> plan) {
  ++ctx_.traffic.owned;
  c.handler = std::move(h);
  c.state = cstate::handshake;
  c.plan = std::move(plan);
  c.who.rules = c.plan->rules;
  c.engine.reset(c.plan->userpass, c.plan->no_auth);
  ctx_.timers.arm(ctx_.now + c.plan->deadline, c.id, 0, deadline_kind::handshake);
  process(c);
}

// -- per-connection state switch ----------------------------------------------

void loop::process(conn& c) {
  switch (c.state) {
    case cstate::accepted:
      return;
    case cstate::handshake:
    case cstate::connected:
      drive_handshake(c);
      return;
    case cstate::connecting:
      on_attempts(c, c.connect_op.on_ready(c.up, ctx_));
      return;
    case cstate::via_handshake:
      via_step(c);
      return;
    case cstate::binding:
      if (!flush_out(c))
        return;
      if (c.up.rd)
        on_bind(c, c.bind.accept(c.up, ctx_));
      return;
    case cstate::relaying:
      relay_step(c);
      return;
    case cstate::udp_relaying:
      udp_control(c);
      return;
  }
}

// -- close --------------------------------------------------------------------

void loop::do_close(conn_id id, close_reason reason) {
  if (auto c = find(id))
    close_conn(*c, reason);
}

void loop::do_close_user(const account* user) {
  std::vector<conn*> hit;
  for (auto& kv : conns_)
    if (kv.second->login.user.get() == user)
      hit.push_back(kv.second.get());
  for (auto c : hit)
    close_conn(*c, close_reason::requested);
}

void loop::do_close_all() {
  std::vector<conn*> all;
  for (auto& kv : conns_)
    all.push_back(kv.second.get());
  for (auto c : all)
    close_conn(*c, close_reason::shutdown);
}

void loop::release_fds(conn& c) {
  c.connect_op.abort();
  c.rel.release();
  c.down.close();
  c.up.close();
  if (c.program)
    c.program->stop(ctx_.children);
  if (c.udp)
    c.udp->close();
}

void loop::close_conn(conn& c, close_reason reason) {
  if (c.closed)
    return;
  c.closed = true;
  ctx_.timers.idle_stop(c.idle);
  release_fds(c);
  // The client's places in its gauges free up now, not with the report.
  c.source.reset();
  c.login = {};
  close_stats stats;
  stats.bytes_up = c.udp ? c.udp->bytes_up() : c.rel.bytes_up();
  stats.bytes_down = c.udp ? c.udp->bytes_down() : c.rel.bytes_down();
  stats.reason = reason;
  stats.relayed = c.state == cstate::relaying || c.state == cstate::udp_relaying;
  stats.has_target = c.has_target;
  stats.target = c.target;
  stats.remote = c.remote;
  stats.parent = std::move(c.parent);
  if (c.has_target)
    stats.handshake_time = c.requested_at - c.accepted_at;
  stats.connect = c.connect;
  if (c.connect != connect_result::none)
    stats.connect_time = c.connected_at - c.requested_at;
  stats.closed_at = ctx_.now;
  // Only an owner names a handler: a connection with one is owned.
  auto handler = std::move(c.handler);
  auto id = c.id;
  auto i = conns_.find(id);
  graveyard_.push_back(std::move(i->second));
  conns_.erase(i);
  count_.fetch_sub(1, std::memory_order_relaxed);
  if (handler)
    reporter_.closed(std::move(handler), id, std::move(stats), ctx_.now);
}

} // namespace px::net
