#include "net/reactor/resolver.hpp"

#include <algorithm>
#include <mutex>

#include <ares.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/log.hpp"
#include "net/reactor/dual_lookup.hpp"
#include "net/reactor/errors.hpp"

namespace px::net {

namespace {

std::once_flag library_once;

/// This host has a route to `a`: a UDP socket connects to it (no packet
/// is sent). RFC 6724 rule 1, as getaddrinfo and c-ares sort with it.
bool routable(const ip_endpoint& a) {
  int fd = ::socket(a.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  auto target = a;
  if (target.port == 0)
    target.port = 53; // any port: connect wants one
  sockaddr_storage sa{};
  auto len = target.to_sockaddr(sa);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0;
  ::close(fd);
  return ok;
}

/// Both families' answers as one: IPv6 first unless this host cannot
/// reach it.
resolve_result merged(dual_lookup& answers) {
  return answers.take(!answers.has_both_families() || routable(answers.first_v6()));
}

} // namespace

struct resolver::lookup {
  resolve_callback done;
  resolve_callback late;
  dual_lookup answers;
  /// `done` ran with one family (partial): the other goes to `late`.
  bool delivered = false;
};

/// What a c-ares query's callback gets: the lookup it answers for.
struct resolver::query {
  resolver* owner;
  uint64_t id;
  bool v6;
};

struct resolver::dns_socket final : io_handler {
  resolver* owner;
  int fd;

  dns_socket(resolver* r, int s) : owner(r), fd(s) {
  }

  void on_io(uint32_t events) override {
    ares_socket_t rd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wr = (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(owner->channel_, rd, wr);
  }
};

resolver::resolver(int epfd, const std::string& servers) : epfd_(epfd) {
  std::call_once(library_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options opts{};
  opts.sock_state_cb = [](void* self, ares_socket_t fd, int r, int w) {
    on_sock_state(self, fd, r, w);
  };
  opts.sock_state_cb_data = this;
  opts.timeout = 2000;
  opts.tries = 2;
  // DNS only: resolve() looks in the hosts table first (c-ares would read
  // the file again for each query).
  char dns_only[] = "b";
  opts.lookups = dns_only;
  if (ares_init_options(&channel_, &opts,
                        ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES
                          | ARES_OPT_LOOKUPS)
      != ARES_SUCCESS) {
    channel_ = nullptr;
    log::error("c-ares initialization failed: DNS names will not resolve");
  } else if (!servers.empty()
             && ares_set_servers_ports_csv(channel_, servers.c_str()) != ARES_SUCCESS) {
    log::error("invalid DNS server list: " + servers);
  }
}

resolver::~resolver() {
  // Pending callbacks run with ARES_EDESTRUCTION; they find nobody.
  if (channel_)
    ares_destroy(channel_);
}

void resolver::on_sock_state(void* data, int fd, int readable, int writable) {
  auto self = static_cast<resolver*>(data);
  auto i = self->sockets_.find(fd);
  if (!readable && !writable) {
    if (i != self->sockets_.end()) {
      epoll_ctl(self->epfd_, EPOLL_CTL_DEL, fd, nullptr);
      self->retired_.push_back(std::move(i->second));
      self->sockets_.erase(i);
    }
    return;
  }
  epoll_event ev{};
  ev.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  if (i == self->sockets_.end()) {
    auto s = std::make_unique<dns_socket>(self, fd);
    ev.data.ptr = static_cast<io_handler*>(s.get());
    self->sockets_.emplace(fd, std::move(s));
    epoll_ctl(self->epfd_, EPOLL_CTL_ADD, fd, &ev);
  } else {
    ev.data.ptr = static_cast<io_handler*>(i->second.get());
    epoll_ctl(self->epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void resolver::resolve(const std::string& name, bool stream,
                       resolve_callback done, resolve_callback late) {
  if (!channel_) {
    done(resolve_result{connect_error::resolver_failure, {}});
    return;
  }
  // A name in the hosts file is answered by it alone, as getaddrinfo and
  // c-ares's own AF_UNSPEC lookup do: no DNS query for the other family.
  if (auto hosts = from_hosts_file(name)) {
    done(std::move(*hosts));
    return;
  }
  auto id = next_id_++;
  lookups_.emplace(id, std::make_unique<lookup>(
                        lookup{std::move(done), std::move(late), {}, false}));
  for (bool v6 : {true, false}) {
    ares_addrinfo_hints hints{};
    hints.ai_family = v6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = stream ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_protocol = stream ? IPPROTO_TCP : IPPROTO_UDP;
    // An answer may come back inside the call (a name c-ares rejects at
    // once), and complete (and end) the lookup.
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &resolver::on_done,
                     new query{this, id, v6});
  }
}

std::optional<resolve_result> resolver::from_hosts_file(const std::string& name) {
  auto now = dual_lookup::clock::now();
  auto e = hosts_.find(name, now);
  if (!e || (e->v4.empty() && e->v6.empty()))
    return std::nullopt;
  dual_lookup answers;
  answers.add(true, resolve_result{connect_error::none, e->v6, false}, now);
  answers.add(false, resolve_result{connect_error::none, e->v4, false}, now);
  return merged(answers);
}

void resolver::on_done(void* arg, int status, int, ares_addrinfo* res) {
  std::unique_ptr<query> q{static_cast<query*>(arg)};
  resolve_result out;
  if (status == ARES_SUCCESS && res) {
    for (auto ai = res->nodes; ai; ai = ai->ai_next) {
      // Only the family asked for: c-ares answers an AAAA query for an
      // IPv4 literal with the IPv4 address, which the A query brings too.
      auto ep = ip_endpoint::from_sockaddr(ai->ai_addr);
      if (ep && ep->v6 == q->v6
          && std::find(out.addrs.begin(), out.addrs.end(), *ep) == out.addrs.end())
        out.addrs.push_back(*ep);
    }
    if (out.addrs.empty())
      out.err = connect_error::name_not_found;
  } else {
    out.err = from_ares_status(status);
  }
  if (res)
    ares_freeaddrinfo(res);
  if (status == ARES_EDESTRUCTION)
    return; // the loop is going away
  q->owner->on_answer(q->id, q->v6, std::move(out));
}

void resolver::on_answer(uint64_t id, bool v6, resolve_result answer) {
  auto i = lookups_.find(id);
  if (i == lookups_.end())
    return; // delivered after its resolution delay: this family came late
  auto& l = *i->second;
  if (l.delivered) { // the family `done` went without
    auto late = std::move(l.late);
    lookups_.erase(i);
    if (answer.err == connect_error::none && answer.addrs.empty())
      answer.err = connect_error::name_not_found;
    late(std::move(answer));
    return;
  }
  auto had_deadline = l.answers.deadline().has_value();
  if (l.answers.add(v6, std::move(answer), dual_lookup::clock::now())) {
    deliver(id);
    return;
  }
  // Only a caller that takes the late family gets one family early; the
  // others (BIND's expected peer) wait for both answers.
  if (!had_deadline && l.answers.deadline() && l.late)
    delays_.emplace_back(*l.answers.deadline(), id);
}

void resolver::deliver(uint64_t id) {
  auto i = lookups_.find(id);
  if (i == lookups_.end())
    return;
  auto& l = *i->second;
  if (l.delivered)
    return; // waits for its late family
  auto res = merged(l.answers);
  if (!l.answers.both()) {
    // One family, within the resolution delay: the lookup stays for the
    // other, whose answer goes to `late`.
    res.partial = true;
    l.delivered = true;
    auto done = std::move(l.done);
    done(std::move(res));
    return;
  }
  auto owned = std::move(i->second);
  lookups_.erase(i);
  owned->done(std::move(res));
}

std::optional<std::chrono::milliseconds> resolver::next_timeout() const {
  std::optional<std::chrono::milliseconds> out;
  if (!delays_.empty()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(delays_.front().first
                                                             - dual_lookup::clock::now());
    out = std::max(left, std::chrono::milliseconds{0});
  }
  if (!channel_ || sockets_.empty())
    return out;
  timeval tv{};
  auto tvp = ares_timeout(channel_, nullptr, &tv);
  if (!tvp)
    return out;
  std::chrono::milliseconds ares{tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000};
  return out ? std::min(*out, ares) : ares;
}

void resolver::end_batch() {
  if (!retired_.empty())
    retired_.clear();
}

void resolver::process_timeouts() {
  if (channel_ && !sockets_.empty())
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  auto now = dual_lookup::clock::now();
  while (!delays_.empty() && delays_.front().first <= now) {
    auto id = delays_.front().second;
    delays_.pop_front();
    deliver(id); // nothing when both families have answered since
  }
}

} // namespace px::net
