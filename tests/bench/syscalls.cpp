// What single system calls cost on this kernel (gVisor here): the numbers
// behind the connection-rate profile in docs/performance.md. Loopback TCP;
// prints microseconds per call.
//
//   ./build/tests/bench_syscalls [N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

double per_call_us(int n, const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i)
    f();
  auto dt = std::chrono::steady_clock::now() - t0;
  return std::chrono::duration<double, std::micro>(dt).count() / n;
}

} // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 50000;
  if (n <= 0)
    n = 50000;
  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 16) != 0
      || getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    perror("listen");
    return 1;
  }
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    perror("connect");
    return 1;
  }
  int s = ::accept(l, nullptr, nullptr);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  char buf[64] = {0};
  auto pair = per_call_us(n, [&] {
    if (::send(c, buf, sizeof(buf), MSG_NOSIGNAL) != sizeof(buf)
        || ::recv(s, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf))
      abort();
  });
  printf("send+recv of 64 bytes    %6.2f us per call\n", pair / 2);
  sockaddr_storage ss{};
  printf("getsockname              %6.2f us\n", per_call_us(n, [&] {
           socklen_t sl = sizeof(ss);
           getsockname(c, reinterpret_cast<sockaddr*>(&ss), &sl);
         }));
  printf("setsockopt(TCP_NODELAY)  %6.2f us\n", per_call_us(n, [&] {
           setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
         }));
  int ep = epoll_create1(0);
  epoll_event evs[8];
  printf("epoll_wait(0), idle      %6.2f us\n",
         per_call_us(n, [&] { epoll_wait(ep, evs, 8, 0); }));
  printf("socket+close             %6.2f us\n", per_call_us(n / 10, [] {
           int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
           ::close(fd);
         }));
  ::close(ep);
  ::close(c);
  ::close(s);
  ::close(l);
  return 0;
}
