#include "net/reactor/resolver.hpp"

#include <algorithm>
#include <mutex>

#include <ares.h>
#include <netdb.h>
#include <sys/epoll.h>

#include "net/log.hpp"
#include "net/reactor/errors.hpp"

namespace px::net {

namespace {

std::once_flag library_once;

} // namespace

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
  if (ares_init_options(&channel_, &opts,
                        ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)
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
                       resolve_callback done) {
  if (!channel_) {
    done(resolve_result{connect_error::resolver_failure, {}});
    return;
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = stream ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_protocol = stream ? IPPROTO_TCP : IPPROTO_UDP;
  ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &resolver::on_done,
                   new resolve_callback(std::move(done)));
}

void resolver::on_done(void* arg, int status, int, ares_addrinfo* res) {
  std::unique_ptr<resolve_callback> done{static_cast<resolve_callback*>(arg)};
  resolve_result out;
  if (status == ARES_SUCCESS && res) {
    for (auto ai = res->nodes; ai; ai = ai->ai_next) {
      auto ep = ip_endpoint::from_sockaddr(ai->ai_addr);
      if (ep && std::find(out.addrs.begin(), out.addrs.end(), *ep) == out.addrs.end())
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
  (*done)(std::move(out));
}

std::optional<std::chrono::milliseconds> resolver::next_timeout() const {
  if (!channel_ || sockets_.empty())
    return std::nullopt;
  timeval tv{};
  auto tvp = ares_timeout(channel_, nullptr, &tv);
  if (!tvp)
    return std::nullopt;
  return std::chrono::milliseconds(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
}

void resolver::end_batch() {
  if (!retired_.empty())
    retired_.clear();
}

void resolver::process_timeouts() {
  if (channel_ && !sockets_.empty())
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

} // namespace px::net
