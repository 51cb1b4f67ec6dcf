// A BIND: a listener on the address the client reached us at, waiting for
// the one host the request named; other hosts are turned away. The
// accepted peer becomes the connection's upstream side.
#pragma once

#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/outbound_profile.hpp"
#include "net/reactor/side.hpp"

namespace px::net {

struct loop_context;

enum class bind_status : uint8_t { pending, bound, accepted, failed };

struct bind_outcome {
  bind_status status = bind_status::pending;
  /// Why it failed (failed).
  connect_error err = connect_error::none;
  /// The listener's address (bound), our address towards the peer
  /// (accepted).
  ip_endpoint local;
  /// The peer that connected (accepted).
  ip_endpoint peer;
};

class bind_op {
public:
  /// Accepts only these hosts (any port); none: any host.
  void expect(std::vector<ip_endpoint> hosts) {
    hosts_ = std::move(hosts);
  }

  /// Listens on the address of `client_fd`'s local end (or the source
  /// address `profile` gives for its family), any port, on `up`.
  bind_outcome listen(int client_fd, const outbound_profile* profile, side& up,
                      loop_context& ctx);

  /// The listener on `up` is readable: accepts the expected peer (then
  /// `up` is that connection), or stays pending.
  bind_outcome accept(side& up, loop_context& ctx);

private:
  bool allowed(const ip_endpoint& peer) const;

  std::vector<ip_endpoint> hosts_;
};

} // namespace px::net
