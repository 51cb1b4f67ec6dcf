// Outgoing sockets under an outbound profile (net/outbound_profile.hpp): a
// non-blocking, close-on-exec socket of the destination's family with the
// profile's device (SO_BINDTODEVICE), mark (SO_MARK) and source address
// applied before the socket is used. The connector (CONNECT), BIND's
// listener and the UDP relay's outgoing sockets all open theirs here, so a
// profile means the same thing for every command. A destination of a family
// the profile gives no source address for, while it gives one for the other
// family, is refused (network unreachable): never a wrong source.
#pragma once

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/outbound_profile.hpp"

namespace px::net {

class account;

/// Opens a socket of `type` (SOCK_STREAM or SOCK_DGRAM) for reaching `dst`
/// under `p` (null: no profile). A stream socket is bound to the profile's
/// source address with IP_BIND_ADDRESS_NO_PORT (the port is chosen at
/// connect, per destination, so sources do not run out of ports); a
/// datagram socket is bound to the source address (or the family's
/// wildcard), any port, IPv6 sockets IPv6-only. Returns the fd, or -1 with
/// `err` set.
int open_outbound(const ip_endpoint& dst, int type, const outbound_profile* p,
                  connect_error& err);

/// Opens BIND's listening socket (not listening yet): bound to the profile's
/// source address of `local`'s family, or to `local` when the profile has
/// none (port 0 either way), with the profile's device and mark. Returns the
/// fd, or -1 with `err` set (network_unreachable when the profile has a
/// source address for the other family only).
int open_outbound_listener(const ip_endpoint& local, const outbound_profile* p,
                           connect_error& err);

/// The profile of a connection: `user`'s (when its login names one) from
/// `table`, else the table's default; null when there is no table. Sets
/// `unknown` (and returns null) when the user names a profile the table
/// lacks.
const outbound_profile* pick_outbound(const outbound_table* table,
                                      const account* user, bool& unknown);

} // namespace px::net
