// The relay of a TCP connection: two pumps (client -> target and target ->
// client), or three with a transformation program (target -> program ->
// client). It steps the pumps, ends a direction whose source is exhausted
// (half-close; the last direction needs none, the close follows), adds the
// bytes to the loop's counters, and says how the connection fares.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "net/conn_control.hpp"
#include "net/reactor/pump.hpp"

namespace px::net {

struct loop_context;
class transform_proc;

enum class relay_status : uint8_t {
  /// Directions are open; nothing moved in this step.
  idle,
  /// Bytes moved (or a direction ended).
  active,
  /// Every direction is done: close with close_reason::done.
  done,
  /// A system call failed: close with `reason`.
  failed,
};

struct relay_outcome {
  relay_status status = relay_status::idle;
  close_reason reason = close_reason::done;
  /// The program's input was closed in this step (its drain deadline
  /// starts).
  bool input_closed = false;
  /// A direction waits for the user's bandwidth until then (epoch: none).
  limit_clock::time_point resume{};
};

class relay {
public:
  /// Relays between `down` (the client) and `up` (the target), through
  /// `program` when not null, within `user`'s bandwidth and counted in its
  /// totals (null: unlimited, not counted).
  void start(side& down, side& up, transform_proc* program,
             const relay_options& opts, loop_context& ctx, account* user = nullptr);

  /// Written to the client before anything relayed (not counted), to the
  /// target (the client's early data, counted), and what the target sent
  /// before the relay started (a parent's read past its reply: counted, and
  /// through the program when there is one).
  void set_prefixes(std::vector<uint8_t> to_client, std::vector<uint8_t> to_upstream,
                    std::vector<uint8_t> from_target = {});

  /// Moves what can move.
  relay_outcome step(loop_context& ctx);

  /// Bytes relayed from the client to the target and back.
  uint64_t bytes_up() const;
  uint64_t bytes_down() const;

  /// The program's output has all reached the client.
  bool output_done() const;

  /// Gives back pipes and buffers (the connection closes).
  void release();

private:
  bool others_done(size_t i) const;
  pump& to_client();

  std::array<pump, 3> pumps_;
  size_t npumps_ = 0;
  side* down_ = nullptr;
  side* up_ = nullptr;
  transform_proc* program_ = nullptr;
};

} // namespace px::net
