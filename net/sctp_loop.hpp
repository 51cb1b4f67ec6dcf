// Shared skeleton of the two SCTP transports (internal to net/): command
// queue, association table, reassembly and delivery. Subclasses do the I/O.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "net/task_queue.hpp"

#include "net/sctp.hpp"

namespace px::net::detail {

class sctp_loop : public sctp_transport {
public:
  explicit sctp_loop(size_t max_message);
  ~sctp_loop() override;

  void send(assoc_id id, std::vector<uint8_t> msg) override;
  void close(assoc_id id) override;
  /// Ends the I/O thread; subclasses call it first in their destructors.
  void stop() override;

protected:
  struct assoc {
    assoc_id id = 0;
    std::shared_ptr<sctp_events> events;
    std::vector<uint8_t> partial;
    bool oversized = false;
    std::deque<std::vector<uint8_t>> outq;
    bool close_after = false;
    bool down = false;
  };

  /// Runs `f` on the I/O thread.
  void post(std::function<void()> f) {
    tasks_.post(std::move(f));
  }

  /// Adds received bytes; delivers when `eor`.
  void on_bytes(assoc& a, const uint8_t* data, size_t n, bool eor);

  /// Creates an association record and announces it.
  assoc& add_assoc(std::shared_ptr<sctp_events> ev, const ip_endpoint& peer);

  /// Announces the end of an association and forgets it.
  void remove_assoc(assoc_id id);

  assoc* find(assoc_id id);

  /// Tries to write queued messages; closes when asked and drained.
  virtual void flush(assoc& a) = 0;

  size_t max_message_;
  /// Commands for the I/O thread, which waits on its descriptor besides
  /// its sockets.
  task_queue tasks_;
  std::map<assoc_id, assoc> assocs_;
  assoc_id next_id_ = 1;
  std::thread thread_;
  bool running_ = true;
};

} // namespace px::net::detail
