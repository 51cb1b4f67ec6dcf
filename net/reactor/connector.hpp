// A CONNECT's attempts: the resolved addresses minus those the owner's
// rules forbid, tried one after the other with a non-blocking connect on
// the connection's upstream side. It returns pending, connected or failed;
// the loop decides what follows (the deadline is the loop's too).
#pragma once

#include <vector>

#include "net/address.hpp"
#include "net/conn_control.hpp"
#include "net/rules.hpp"
#include "net/reactor/side.hpp"

namespace px::net {

struct loop_context;

enum class connect_status : uint8_t { pending, connected, failed };

struct connect_outcome {
  connect_status status = connect_status::pending;
  /// Why it failed (failed).
  connect_error err = connect_error::none;
  /// The target reached and our address towards it (connected).
  ip_endpoint remote;
  ip_endpoint local;
};

class connector {
public:
  /// Starts with `addrs` minus those the rules of `who` block for a
  /// CONNECT to `name` (empty: an address was given); none left: denied.
  connect_outcome start(std::vector<ip_endpoint> addrs, const rule_subject& who,
                        std::string_view name, side& up, loop_context& ctx);

  /// `up` reported readiness: connected, still pending, or (after trying
  /// every address left) failed.
  connect_outcome on_ready(side& up, loop_context& ctx);

private:
  connect_outcome try_next(side& up, loop_context& ctx);
  connect_outcome retry(int err, side& up, loop_context& ctx);
  static connect_outcome connected(side& up, const ip_endpoint& remote);

  std::vector<ip_endpoint> addrs_;
  size_t next_ = 0;
  connect_error last_ = connect_error::none;
};

} // namespace px::net
