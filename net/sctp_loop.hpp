// Shared skeleton of the two SCTP transports (internal to net/): command
// queue, association table, reassembly, delivery, and every per-peer cap
// (docs/admin-protocols.md, "Limits"). Subclasses do the I/O.
//
// Back-pressure: the admin protocols are request/response, so every message
// handed to a session counts as unanswered until the session sends one. An
// association with `max_unanswered` unanswered messages, or with more than
// `max_queued_bytes` of replies its socket did not take, is not read until
// that drains: its peer's window closes and its sender blocks. Nothing per
// peer grows without bound: not this queue, not the session's mailbox.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "net/task_queue.hpp"

#include "net/sctp.hpp"

namespace px::net::detail {

/// Caps of one transport.
struct sctp_limits {
  /// Associations open at once, in all and from one source address.
  size_t max_assocs = 32;
  size_t max_assocs_per_source = 8;
  /// Messages handed to the session and not answered yet: reading stops.
  size_t max_unanswered = 4;
  /// Replies the socket did not take yet, in messages or bytes: reading
  /// stops.
  size_t max_queued = 16;
  size_t max_queued_bytes = 64 * 1024;
  /// A graceful close that takes longer becomes an abort.
  std::chrono::milliseconds close_grace{3000};
  /// Socket receive and send buffers of an association.
  int rcvbuf = 16 * 1024;
  int sndbuf = 64 * 1024;
};

class sctp_loop : public sctp_transport {
public:
  explicit sctp_loop(size_t max_message);
  ~sctp_loop() override;

  void send(assoc_id id, std::vector<uint8_t> msg) override;
  void close(assoc_id id) override;
  /// Ends the I/O thread; subclasses call it first in their destructors.
  void stop() override;

protected:
  using clock = std::chrono::steady_clock;

  struct assoc {
    assoc_id id = 0;
    std::shared_ptr<sctp_events> events;
    ip_endpoint peer;
    std::vector<uint8_t> partial;
    bool oversized = false;
    std::deque<std::vector<uint8_t>> outq;
    size_t queued_bytes = 0;
    size_t unanswered = 0;
    /// Close asked: nothing more is delivered; aborted at `close_by`.
    bool close_after = false;
    /// The graceful shutdown is under way (sent once `outq` drained).
    bool shut = false;
    clock::time_point close_by;
  };

  /// What writing one message did.
  enum class write_result { done, again, failed };

  // -- for subclasses, on the I/O thread --------------------------------------

  /// Runs `f` on the I/O thread.
  void post(std::function<void()> f) {
    tasks_.post(std::move(f));
  }

  /// True when an association from `peer` fits under the caps; logs (at
  /// most every 10 s) when it does not.
  bool admit(const ip_endpoint& peer);

  /// Creates an association record and announces it.
  assoc& add_assoc(std::shared_ptr<sctp_events> ev, const ip_endpoint& peer);

  /// Announces the end of an association and forgets it.
  void remove_assoc(assoc_id id);

  assoc* find(assoc_id id);

  /// Adds received bytes; delivers when `eor` (discards when closing).
  void on_bytes(assoc& a, const uint8_t* data, size_t n, bool eor);

  /// True when `a`'s socket should be read now (see back-pressure above).
  bool wants_read(const assoc& a) const;

  /// Writes queued messages; starts the graceful shutdown once asked and
  /// drained; drops the association when writing fails. May remove `a`.
  void flush(assoc& a);

  /// Aborts every association whose close took longer than its grace.
  void expire_closes();

  /// Drops every association (the I/O thread is ending).
  void drop_all();

  // -- implemented by subclasses ---------------------------------------------

  /// Writes one whole message.
  virtual write_result write_one(assoc& a, const std::vector<uint8_t>& msg) = 0;

  /// Starts a graceful shutdown (queued data first, then SHUTDOWN).
  virtual void shutdown_write(assoc& a) = 0;

  /// Closes the socket (an ABORT when `abort`) and calls `remove_assoc`.
  virtual void drop(assoc_id id, bool abort) = 0;

  /// Reads what waits on a socket that `wants_read` again.
  virtual void resume(assoc_id id) = 0;

  size_t max_message_;
  sctp_limits limits_;
  /// Commands for the I/O thread, which waits on its descriptor besides
  /// its sockets.
  task_queue tasks_;
  std::map<assoc_id, assoc> assocs_;
  assoc_id next_id_ = 1;
  std::thread thread_;
  bool running_ = true;

private:
  using source_key = std::pair<bool, std::array<uint8_t, 16>>;

  /// After a command: writes, then reads if back-pressure lifted.
  void after_command(assoc_id id);

  std::map<source_key, size_t> per_source_;
  clock::time_point last_refusal_log_;
  size_t refusals_ = 0;
};

} // namespace px::net::detail
