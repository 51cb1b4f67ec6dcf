// The reactor facade: listeners, the loops' lifetime, and commands posted
// to the loop that owns a connection. The loop itself is net/reactor/.
#include "net/reactor.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include <unistd.h>

#include "net/log.hpp"
#include "net/reactor/accept.hpp"
#include "net/reactor/loop.hpp"
#include "net/socket_ops.hpp"

namespace px::net {

reactor::reactor(reactor_config cfg) : cfg_(std::move(cfg)) {
  if (cfg_.threads == 0)
    cfg_.threads = std::max(1u, std::thread::hardware_concurrency());
  cfg_.threads = std::min<size_t>(cfg_.threads, 255);
}

reactor::~reactor() {
  stop();
  for (auto& l : listeners_)
    l->close_all();
}

namespace {

/// Opens the other loops' SO_REUSEPORT sockets of `l`; on failure the loops
/// share its first socket.
void add_loop_sockets(listener& l, size_t loops, std::chrono::seconds client_first) {
  for (size_t i = 1; i < loops; ++i) {
    bool deferred = false;
    int more = open_listener(l.addr, true, client_first, deferred);
    if (more < 0 || deferred != l.deferred) {
      if (more >= 0)
        ::close(more);
      log::warning("SO_REUSEPORT listener for " + l.addr.to_string()
                   + " failed; the loops share one socket");
      for (size_t k = 1; k < l.fds.size(); ++k)
        ::close(l.fds[k]);
      l.fds.resize(1);
      return;
    }
    l.fds.push_back(more);
  }
}

} // namespace

std::variant<ip_endpoint, std::string>
reactor::listen(const ip_endpoint& addr, std::shared_ptr<accept_handler> h,
                std::chrono::seconds client_first) {
  // One socket per loop (SO_REUSEPORT): the kernel spreads clients over the
  // loops, where one shared socket hands a burst to whichever loop wakes
  // first. Where that fails, the loops share one socket.
  auto fail = [&] {
    return std::string{"cannot listen on "} + addr.to_string() + ": "
           + std::strerror(errno);
  };
  auto l = std::make_unique<listener>();
  bool many = cfg_.threads > 1;
  auto at = addr;
  if (many) {
    // SO_REUSEPORT would let a second proxy started on the same port by
    // mistake share it silently: a plain bind first proves the port free
    // (and picks one for port 0).
    int probe = bound_tcp_socket(addr, false);
    if (probe < 0)
      return fail();
    at = ip_endpoint::local_of(probe).value_or(addr);
    ::close(probe);
  }
  int fd = open_listener(at, many, client_first, l->deferred);
  if (fd < 0 && many) {
    many = false;
    fd = open_listener(addr, false, client_first, l->deferred);
  }
  if (fd < 0)
    return fail();
  l->addr = ip_endpoint::local_of(fd).value_or(addr);
  l->fds.push_back(fd);
  if (many)
    add_loop_sockets(*l, cfg_.threads, client_first);
  l->handler = std::move(h);
  auto result = l->addr;
  listeners_.push_back(std::move(l));
  return result;
}

void reactor::start() {
  if (started_)
    return;
  started_ = true;
  for (size_t i = 0; i < cfg_.threads; ++i) {
    loops_.push_back(std::make_unique<loop>(i, cfg_, traffic_));
    for (auto& l : listeners_)
      loops_.back()->add_listener(l.get());
  }
  for (auto& lp : loops_)
    lp->start();
}

void reactor::stop_listening() {
  std::vector<std::future<void>> done;
  for (auto& lp : loops_) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    auto raw = lp.get();
    lp->post([raw, p] {
      raw->do_remove_listeners();
      p->set_value();
    });
  }
  for (auto& f : done)
    f.wait();
  for (auto& l : listeners_)
    l->close_all();
}

void reactor::close_all() {
  for (auto& lp : loops_) {
    auto raw = lp.get();
    lp->post([raw] { raw->do_close_all(); });
  }
}

void reactor::stop() {
  for (auto& lp : loops_)
    lp->stop();
  loops_.clear();
  // No accept can happen any more: let the handlers go now (they may hold
  // resources of their owner's, such as actor handles).
  for (auto& l : listeners_)
    l->handler.reset();
}

size_t reactor::connection_count() const {
  size_t n = 0;
  for (auto& lp : loops_)
    n += lp->count();
  return n;
}

uint64_t reactor::owned_closed() const {
  uint64_t n = 0;
  for (auto& lp : loops_)
    n += lp->owned_closed();
  return n;
}

// -- commands -----------------------------------------------------------------

loop& reactor::owner(conn_id id) {
  auto index = loop::index_of(id);
  return *loops_[index < loops_.size() ? index : 0];
}

void reactor::handshake(conn_id id, std::shared_ptr<conn_handler> h,
                        handshake_plan plan) {
  auto& lp = owner(id);
  lp.post([&lp, id, h = std::move(h), p = std::move(plan)]() mutable {
    lp.do_handshake(id, std::move(h), std::move(p));
  });
}

void reactor::authenticated(conn_id id, bool ok, login_grant grant) {
  auto& lp = owner(id);
  lp.post([&lp, id, ok, g = std::move(grant)]() mutable {
    lp.do_authenticated(id, ok, std::move(g));
  });
}

void reactor::send(conn_id id, std::vector<uint8_t> bytes, after next) {
  auto& lp = owner(id);
  lp.post([&lp, id, b = std::move(bytes), next]() mutable {
    lp.do_send(id, std::move(b), next);
  });
}

void reactor::bind(conn_id id, bind_request req) {
  auto& lp = owner(id);
  lp.post([&lp, id, r = std::move(req)]() mutable { lp.do_bind(id, std::move(r)); });
}

void reactor::udp_associate(conn_id id, udp_request req) {
  auto& lp = owner(id);
  lp.post([&lp, id, r = std::move(req)]() mutable {
    lp.do_udp_associate(id, std::move(r));
  });
}

void reactor::start_relay(conn_id id, std::vector<uint8_t> to_client,
                          std::vector<uint8_t> to_upstream, relay_options opts) {
  auto& lp = owner(id);
  lp.post([&lp, id, a = std::move(to_client), b = std::move(to_upstream),
           opts]() mutable {
    lp.do_start_relay(id, std::move(a), std::move(b), opts);
  });
}

void reactor::close(conn_id id) {
  auto& lp = owner(id);
  lp.post([&lp, id] { lp.do_close(id, close_reason::requested); });
}

void reactor::close_user(std::shared_ptr<account> user) {
  for (auto& lp : loops_) {
    auto raw = lp.get();
    raw->post([raw, user] { raw->do_close_user(user.get()); });
  }
}

} // namespace px::net
