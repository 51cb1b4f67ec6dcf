// One direction of a relay: bytes from a source descriptor to a destination
// descriptor, through a pipe (splice) or a buffer (copy). Like Envoy's
// SplicePump, it borrows both descriptors and owns only what sits between
// them. It knows nothing of connections, epoll or the loop: the relay steps
// it when either side is ready, and it returns what happened.
//
//   prefix  bytes written first (a reply, or data the client sent early)
//   copy    recv into a buffer of `cap` bytes, send from it; a short recv
//           proves the socket drained (the next arrival is a new edge)
//   splice  socket -> pipe -> socket without copying; a short splice proves
//           nothing (the pipe may be out of slots), only EAGAIN with an
//           empty pipe does
//   switch  a direction starts by copying (small exchanges cost fewer
//           system calls) and splices once it has moved `splice_after`
//           bytes and its buffer is empty, so no byte overtakes another
//   cap     never more than `cap` bytes held: a full pipe or buffer stops
//           reading the source until the destination takes them
//           (back-pressure)
//   shape   with a bandwidth bucket (a user's limit), a read takes its
//           length from the bucket first; an empty bucket pauses the
//           reads (nothing more is buffered) and the step says when to
//           step again
//   end     once the source said EOF and everything is delivered, the
//           caller half-closes (shutdown(SHUT_WR)) or not
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/limits.hpp"
#include "net/reactor/pipe_pool.hpp"
#include "net/reactor/side.hpp"

namespace px::net {

/// How a direction relays.
struct pump_config {
  /// Bytes this direction may hold (pipe or buffer).
  size_t cap = 64 * 1024;
  /// Splice once the direction carries bulk data (else copy only).
  bool splice = true;
  /// Bytes copied before the switch to splice (0: splice from the start).
  uint64_t splice_after = 64 * 1024;
};

/// What a step did.
enum class pump_status : uint8_t {
  /// Nothing could move (both sides would block, or the direction ended).
  blocked,
  /// Bytes moved, or the source reached its end.
  progress,
  /// A system call failed on `failed`.
  error,
};

struct pump_result {
  pump_status status = pump_status::blocked;
  /// Bytes delivered to the destination in this step that count as relayed
  /// data (a reply in the prefix does not).
  uint64_t delivered = 0;
  /// The side whose system call failed (on error).
  const side* failed = nullptr;
  /// Reads wait for the bandwidth bucket until then (epoch: they do not).
  limit_clock::time_point resume{};
};

class pump {
public:
  pump() = default;
  ~pump();

  pump(const pump&) = delete;
  pump& operator=(const pump&) = delete;

  /// Relays from `src` to `dst` (borrowed; they must outlive the pump or
  /// its `release`), with pipes from `pool`.
  void start(side& src, side& dst, const pump_config& cfg, pipe_pool& pool);

  /// Bytes to write before anything relayed: `head` does not count as
  /// relayed (a reply), `data` after it does (early data of the source).
  void set_prefix(std::vector<uint8_t> head, std::vector<uint8_t> data = {});

  /// Takes the length of every read from `bucket` (null: unlimited) and
  /// adds the bytes delivered to `counter` (null: none). Both borrowed.
  void shape(rate_bucket* bucket, std::atomic<uint64_t>* counter);

  /// Moves as much as possible without blocking; `now` is for the bucket.
  pump_result step(limit_clock::time_point now = {});

  /// The source reached EOF and every byte is delivered: the caller ends
  /// the direction with `half_close`.
  bool ended() const {
    return eof_ && held_ == 0 && prefix_.empty() && !shut_;
  }

  /// Ends the direction: shutdown(SHUT_WR) on a socket destination when
  /// `shutdown_socket` (a pipe destination is the caller's to close).
  void half_close(bool shutdown_socket);

  /// The direction is over.
  bool done() const {
    return shut_;
  }

  /// Bytes delivered so far (a reply excluded).
  uint64_t moved() const {
    return moved_;
  }

  /// Bytes held between source and destination.
  size_t held() const {
    return held_;
  }

  /// The direction splices (else copies).
  bool splicing() const {
    return splice_;
  }

  /// The destination is `s`.
  bool writes_to(const side& s) const {
    return dst_ == &s;
  }

  /// Gives the pipe back to the pool (closed if bytes are in it) and frees
  /// the buffer. Idempotent.
  void release();

private:
  /// Writes the prefix; false on error.
  bool write_prefix(pump_result& r, bool& moved);
  /// Writes held bytes to the destination; false on error.
  bool deliver(pump_result& r, bool& moved);
  /// A write to the destination returned `n` <= 0: true when the caller
  /// may go on (would block: `wr` cleared; interrupted), false on error.
  bool write_refused(ssize_t n, pump_result& r);
  /// Reads from the source into the pipe or buffer; false on error.
  bool fill(bool& moved);
  /// Copy mode: the buffer (made when missing, its bytes moved to the
  /// front when its end is reached) and the room at its end.
  size_t copy_room();
  /// How much of `room` the bucket grants now (all without one; 0: wait).
  size_t allowance(size_t room);
  /// A read of `n` used `n` of `granted` bytes: the rest goes back.
  void settle(ssize_t n, size_t granted);
  /// Drops the pipe or buffer of an empty direction, and switches to
  /// splice once the direction carries bulk data.
  void on_empty();

  side* src_ = nullptr;
  side* dst_ = nullptr;
  pipe_pool* pool_ = nullptr;
  std::vector<uint8_t> prefix_;
  size_t prefix_off_ = 0;
  /// Where the counted part of the prefix starts.
  size_t prefix_data_from_ = 0;
  /// Splice mode: bytes sit in `pipe_`.
  pipe_pair pipe_;
  /// Copy mode: bytes sit in buf_[head_, tail_).
  std::unique_ptr<uint8_t[]> buf_;
  size_t head_ = 0;
  size_t tail_ = 0;
  size_t held_ = 0;
  size_t cap_ = 0;
  bool splice_ = false;
  bool splice_later_ = false;
  uint64_t splice_after_ = 0;
  bool eof_ = false;
  bool shut_ = false;
  uint64_t moved_ = 0;
  rate_bucket* bucket_ = nullptr;
  std::atomic<uint64_t>* counter_ = nullptr;
  limit_clock::time_point now_{};
  limit_clock::time_point resume_{};
};

} // namespace px::net
