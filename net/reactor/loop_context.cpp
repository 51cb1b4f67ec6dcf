#include "net/reactor/loop_context.hpp"

#include <sys/epoll.h>

namespace px::net {

void loop_context::watch(int fd, uint32_t events, io_handler& h) const {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &h;
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

void loop_context::rewatch(int fd, uint32_t events, io_handler& h) const {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = &h;
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

void loop_context::unwatch(int fd) const {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
}

} // namespace px::net
