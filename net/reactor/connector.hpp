// A CONNECT's attempts (Happy Eyeballs, RFC 8305): the resolved addresses
// minus those the owner's rules forbid, ordered by family preference and
// interleaved (preferred, other, preferred...), tried with non-blocking
// connects. The first attempt starts at once; the next starts when the one
// before has failed or after the attempt delay without an answer, so that
// a family that blackholes costs the delay, not the connect timeout. The
// first attempt to connect wins and the others are closed. The connector
// returns pending (with when to start the next attempt), connected or
// failed; the loop arms the timer, and the deadline is the loop's too.
#pragma once

#include <array>
#include <chrono>
#include <vector>

#include "net/address.hpp"
#include "net/outbound_profile.hpp"
#include "net/conn_control.hpp"
#include "net/rules.hpp"
#include "net/reactor/deadlines.hpp"
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
  /// Pending: when the next attempt starts unless an answer comes first
  /// (epoch: no attempt is left to start).
  time_point next_attempt{};
};

/// Orders `addrs` for Happy Eyeballs: the preferred family first (system:
/// the family of the first address), then the families alternate, each in
/// the resolver's order.
void order_for_attempts(std::vector<ip_endpoint>& addrs, address_family prefer);

class connector {
public:
  /// Attempts in flight at most (each holds a socket).
  static constexpr size_t max_in_flight = 3;

  /// Starts with `addrs` minus those the rules of `who` block for a
  /// CONNECT to `name` (empty: an address was given); none left: denied.
  /// `policy`: family preference and the delay between attempts;
  /// `profile`: the outbound profile the sockets are opened under (null:
  /// none; it must outlive the attempts: the plan holds it). `more`: the
  /// other family's addresses may still come (add): until they do, running
  /// out of attempts is not a failure.
  connect_outcome start(std::vector<ip_endpoint> addrs, const rule_subject& who,
                        std::string_view name, side& up, loop_context& ctx,
                        const connect_policy& policy = {},
                        const outbound_profile* profile = nullptr, bool more = false);

  /// The addresses that came late (RFC 8305 section 3: the other family,
  /// after the resolution delay; none: it had none), checked like those
  /// of start, join the race behind the untried ones, in family order.
  connect_outcome add(std::vector<ip_endpoint> addrs, const rule_subject& who,
                      std::string_view name, side& up, loop_context& ctx);

  /// An attempt reported readiness: the winner moves to `up` (connected),
  /// or still pending, or (every address failed) failed.
  connect_outcome on_ready(side& up, loop_context& ctx);

  /// The attempt delay passed: the next attempt starts (if any is left).
  connect_outcome on_timer(side& up, loop_context& ctx);

  /// Closes every attempt in flight (a deadline, the connection closing).
  void abort();

  /// Why the attempts so far failed, while none is in flight and the late
  /// family is awaited (none otherwise): what a deadline then reports
  /// instead of a timeout.
  connect_error failed_so_far() const {
    return more_ && in_flight() == 0 ? last_ : connect_error::none;
  }

private:
  /// `addrs` made canonical, minus those the rules of `who` block for
  /// `name` (all blocked: denied_ is set).
  std::vector<ip_endpoint> admit(std::vector<ip_endpoint> addrs, const rule_subject& who,
                                 std::string_view name);

  struct attempt {
    side s;
    /// Index of its address in addrs_.
    size_t index = 0;
    bool active = false;
  };

  /// Starts the next address's attempt (skipping those that fail at once).
  void launch(side& up, loop_context& ctx);
  /// What `a` says now: connected (true), still pending, or failed (closed).
  bool check(attempt& a, ip_endpoint& remote);
  connect_outcome won(attempt& a, const ip_endpoint& remote, side& up,
                      loop_context& ctx);
  connect_outcome pending_or_failed(side& up, loop_context& ctx);
  size_t in_flight() const;

  std::vector<ip_endpoint> addrs_;
  size_t next_ = 0;
  connect_error last_ = connect_error::none;
  std::chrono::milliseconds delay_{250};
  address_family prefer_ = address_family::system;
  /// Addresses may still come (add).
  bool more_ = false;
  /// Some addresses were dropped by the rules (the failure, when nothing
  /// else was tried, is a denial).
  bool denied_ = false;
  const outbound_profile* profile_ = nullptr;
  time_point next_at_{};
  std::array<attempt, max_in_flight> attempts_;
};

} // namespace px::net
