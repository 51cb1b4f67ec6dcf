#include "net/sctp_conn.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <netinet/in.h>
#include <unistd.h>
#include <usrsctp.h>

namespace px::net::detail {

namespace {

using clock = std::chrono::steady_clock;

constexpr uint32_t max_chunks_on_queue = 128;

struct path_entry {
  int fd = -1;
  sockaddr_storage peer{};
  socklen_t len = 0;
};

/// The process-wide usrsctp glue. Never destroyed: usrsctp's iterator
/// thread may still call the output callback while the program exits.
struct stack_state {
  std::mutex init_mtx;
  int refs = 0;
  std::mutex paths_mtx; // innermost lock: usrsctp is never called under it
  std::map<conn_path, path_entry> paths;
  conn_path next_path = 1;
  std::mutex tick_mtx;
  clock::time_point last_tick;
};

stack_state& stack() {
  static auto* st = new stack_state;
  return *st;
}

/// usrsctp's output callback: one SCTP packet for path `addr`. A lost
/// datagram is what UDP does anyway; usrsctp retransmits.
int conn_output(void* addr, void* buf, size_t len, uint8_t, uint8_t) {
  auto& st = stack();
  std::lock_guard<std::mutex> guard{st.paths_mtx};
  auto i = st.paths.find(reinterpret_cast<conn_path>(addr));
  if (i != st.paths.end())
    ::sendto(i->second.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
             reinterpret_cast<const sockaddr*>(&i->second.peer), i->second.len);
  return 0;
}

} // namespace

void conn_stack_acquire() {
  auto& st = stack();
  std::lock_guard<std::mutex> guard{st.init_mtx};
  if (st.refs++ > 0)
    return;
  usrsctp_init_nothreads(0, conn_output, nullptr);
  // Out-of-the-blue packets get no ABORT: nothing to reflect at strangers.
  usrsctp_sysctl_set_sctp_blackhole(2);
  // Chunks an association holds for its reader (each costs usrsctp about
  // half a KiB, however small): admin messages need a handful.
  usrsctp_sysctl_set_sctp_max_chunks_on_queue(max_chunks_on_queue);
  std::lock_guard<std::mutex> tick_guard{st.tick_mtx};
  st.last_tick = clock::now();
}

void conn_stack_release(const std::function<void()>& pump) {
  auto& st = stack();
  std::lock_guard<std::mutex> guard{st.init_mtx};
  if (--st.refs > 0)
    return;
  for (int i = 0; i < 300; ++i) {
    if (pump)
      pump();
    conn_tick();
    if (usrsctp_finish() == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

int open_udp(const ip_endpoint& local, std::string& err) {
  int fd = ::socket(local.v6 ? AF_INET6 : AF_INET,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::string{"UDP socket for SCTP-over-UDP: "} + std::strerror(errno);
    return -1;
  }
  if (local.v6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  sockaddr_storage ss;
  auto len = local.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    err = "UDP port " + std::to_string(local.port) + " for SCTP-over-UDP: "
          + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

conn_path conn_path_add(int fd, const ip_endpoint& peer) {
  auto& st = stack();
  conn_path p;
  {
    std::lock_guard<std::mutex> guard{st.paths_mtx};
    p = st.next_path++;
    auto& e = st.paths[p];
    e.fd = fd;
    e.len = peer.to_sockaddr(e.peer);
  }
  usrsctp_register_address(reinterpret_cast<void*>(p));
  return p;
}

void conn_path_remove(conn_path p) {
  auto& st = stack();
  {
    // After usrsctp_finish there is nothing to deregister from.
    std::lock_guard<std::mutex> guard{st.init_mtx};
    if (st.refs > 0)
      usrsctp_deregister_address(reinterpret_cast<void*>(p));
  }
  std::lock_guard<std::mutex> guard{st.paths_mtx};
  st.paths.erase(p);
}

void conn_input(conn_path p, const uint8_t* data, size_t n) {
  // The common header (12 bytes) and one chunk header (4 bytes) at least.
  if (n < 16)
    return;
  usrsctp_conninput(reinterpret_cast<void*>(p), data, n, 0);
}

void conn_tick() {
  auto& st = stack();
  std::lock_guard<std::mutex> guard{st.tick_mtx};
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock::now() - st.last_tick);
  if (elapsed.count() <= 0)
    return;
  st.last_tick += elapsed;
  usrsctp_handle_timers(static_cast<uint32_t>(elapsed.count()));
}

socklen_t conn_address(conn_path p, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  auto& sc = reinterpret_cast<sockaddr_conn&>(out);
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(port);
  sc.sconn_addr = reinterpret_cast<void*>(p);
  return sizeof(sockaddr_conn);
}

conn_path conn_path_of(const sockaddr_storage& ss) {
  if (ss.ss_family != AF_CONN)
    return 0;
  return reinterpret_cast<conn_path>(
    reinterpret_cast<const sockaddr_conn&>(ss).sconn_addr);
}

ssize_t conn_recv(struct socket* s, uint8_t* buf, size_t size, int& flags) {
  sctp_rcvinfo rcv{};
  socklen_t infolen = sizeof(rcv);
  unsigned infotype = 0;
  flags = 0;
  return usrsctp_recvv(s, buf, size, nullptr, nullptr, &rcv, &infolen,
                       &infotype, &flags);
}

ssize_t conn_send(struct socket* s, const uint8_t* data, size_t n) {
  return usrsctp_sendv(s, data, n, nullptr, 0, nullptr, 0, SCTP_SENDV_NOINFO, 0);
}

void set_linger_abort(struct socket* s) {
  linger l{1, 0};
  usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void tune_socket(struct socket* s, int rcvbuf, int sndbuf) {
  usrsctp_set_non_blocking(s, 1);
  int one = 1;
  usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof(one));
  if (rcvbuf > 0)
    usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (sndbuf > 0)
    set_sndbuf(s, sndbuf);
}

void set_sndbuf(struct socket* s, int bytes) {
  usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

} // namespace px::net::detail
