// usrsctp without its threads and without its sockets (internal to net/).
//
// usrsctp runs in AF_CONN mode (`usrsctp_init_nothreads`): it opens no UDP
// or raw socket and starts no receive or timer thread. The program owns the
// UDP sockets and moves packets itself, which keeps RFC 6951 on the wire
// (one SCTP packet per UDP datagram):
//   - every (our UDP socket, peer's UDP endpoint) pair is a *path*; usrsctp
//     sees a path as an AF_CONN address whose pointer is the path's number
//     (never a real pointer: a packet for a forgotten path is dropped);
//   - a received datagram goes to `conn_input` with its path;
//   - usrsctp's output callback sends through the path's socket;
//   - `conn_tick` runs usrsctp's timers for the time elapsed since the last
//     call, whoever calls it (the server's I/O thread, a client's wait).
// Every descriptor here is opened close-on-exec.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <sys/socket.h>

#include "net/address.hpp"

struct socket; // usrsctp's

namespace px::net::detail {

/// A path's number, handed to usrsctp as its AF_CONN address.
using conn_path = uintptr_t;

/// Starts usrsctp (AF_CONN, no threads) for its first user.
void conn_stack_acquire();

/// Ends usrsctp when its last user leaves, calling `pump` between attempts
/// (the caller's sockets still carry the last SHUTDOWN/ABORT packets).
void conn_stack_release(const std::function<void()>& pump);

/// Opens a non-blocking, close-on-exec UDP socket bound to `local`; -1 and
/// `err` set on failure.
int open_udp(const ip_endpoint& local, std::string& err);

/// Registers a path: what usrsctp sends to it leaves through `fd` to `peer`.
conn_path conn_path_add(int fd, const ip_endpoint& peer);

/// Forgets a path; later output to it is dropped. May come after the
/// last `conn_stack_release`.
void conn_path_remove(conn_path p);

/// Hands one received datagram (an SCTP packet) of path `p` to usrsctp.
/// Datagrams too short to be SCTP are ignored.
void conn_input(conn_path p, const uint8_t* data, size_t n);

/// Runs usrsctp's timers for the time since the last call (any thread).
void conn_tick();

/// The AF_CONN address of path `p` with SCTP port `port` (host order).
socklen_t conn_address(conn_path p, uint16_t port, sockaddr_storage& out);

/// The path of an AF_CONN address, 0 for anything else.
conn_path conn_path_of(const sockaddr_storage& ss);

/// One usrsctp_recvv into `buf`; `flags` reports MSG_NOTIFICATION, MSG_EOR.
ssize_t conn_recv(struct socket* s, uint8_t* buf, size_t size, int& flags);

/// One message on `s`; like usrsctp_sendv (-1 and errno on failure).
ssize_t conn_send(struct socket* s, const uint8_t* data, size_t n);

/// Makes the next close of `s` an ABORT instead of a graceful shutdown.
void set_linger_abort(struct socket* s);

/// Non-blocking, no Nagle, and socket buffers of `rcvbuf` and `sndbuf`
/// bytes (0: usrsctp's defaults).
void tune_socket(struct socket* s, int rcvbuf, int sndbuf);

/// Sets the send buffer of `s` (see `udp_transport::write_one`).
void set_sndbuf(struct socket* s, int bytes);

} // namespace px::net::detail
