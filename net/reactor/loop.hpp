// One event loop: an epoll thread that owns its connections. The core
// dispatches every event to the descriptor's io_handler, switches on a
// connection's state, sequences the modules (handshake, resolver,
// connector, BIND, UDP relay, relay, transformation) by their outcomes,
// and closes. Commands from other threads arrive through its task queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/reactor/accept.hpp"
#include "net/reactor/conn.hpp"
#include "net/reactor/loop_context.hpp"
#include "net/reactor/reactor_config.hpp"
#include "net/reactor/reporter.hpp"
#include "net/task_queue.hpp"

namespace px::net {

class loop {
public:
  loop(size_t index, const reactor_config& cfg, traffic_sink traffic);
  ~loop();

  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  /// Accepts on `l` once started (before `start`).
  void add_listener(listener* l) {
    listeners_.push_back(l);
  }

  void start();

  /// Stops the thread: open connections close (reason shutdown).
  void stop();

  /// The index of the loop that owns `id`.
  static size_t index_of(conn_id id);

  /// Runs `f` on this loop's thread.
  void post(std::function<void()> f) {
    tasks_.post(std::move(f));
  }

  /// Connections open now (any thread).
  size_t count() const {
    return count_.load(std::memory_order_relaxed);
  }

  /// Owned connections closed so far (any thread).
  uint64_t owned_closed() const {
    return reporter_.owned_closed();
  }

  // -- commands (on the loop thread; see conn_control) --------------------

  void do_handshake(conn_id id, std::shared_ptr<conn_handler> h, handshake_plan plan);
  void do_authenticated(conn_id id, bool ok, login_grant grant);
  void take_login(conn& c, login_grant grant);
  void do_send(conn_id id, std::vector<uint8_t> bytes, after next);
  void do_bind(conn_id id, bind_request req);
  void do_udp_associate(conn_id id, udp_request req);
  void do_start_relay(conn_id id, std::vector<uint8_t> to_client,
                      std::vector<uint8_t> to_upstream, relay_options opts);
  void do_close(conn_id id, close_reason reason);
  void do_close_all();
  /// Closes the connections logged in as `user`.
  void do_close_user(const account* user);
  void do_remove_listeners();

  // -- events -------------------------------------------------------------

  /// A side of `c` became ready: runs its state's job.
  void process(conn& c);

  /// Clients wait on `l`.
  void accept_from(listener& l);

private:
  struct wake_handler;
  struct listener_watch;

  // -- main loop (loop.cpp) ---
  void run();
  int wait_ms();
  void on_tick();
  void run_deadlines();
  void register_listeners();
  void pause_accepting();
  conn* find(conn_id id);
  void admit(conn& c, listener& l);
  void own(conn& c, std::shared_ptr<conn_handler> h,
           std::shared_ptr<const handshake_plan> plan);

  // -- jobs (loop_jobs.cpp) ---
  bool flush_out(conn& c);
  void drive_handshake(conn& c);
  void on_request(conn& c, socks5::request req);
  void start_connect(conn& c, const socks5::address& target);
  void resolve_for(conn& c, const std::string& name);
  void on_resolved(conn_id id, uint32_t gen, resolve_result res);
  /// The family a partial lookup went without (RFC 8305 section 3).
  void on_resolved_late(conn_id id, uint32_t gen, resolve_result res);
  void on_connect(conn& c, const connect_outcome& out);
  void bind_listen(conn& c);
  void on_bind(conn& c, const bind_outcome& out);
  void connect_failed(conn& c, connect_error err);
  /// `from_target`: bytes the target sent before the relay (see
  /// relay::set_prefixes).
  void begin_relay(conn& c, std::vector<uint8_t> to_client,
                   std::vector<uint8_t> to_upstream, const relay_options& opts,
                   bool flags_exact, std::vector<uint8_t> from_target = {});
  bool start_program(conn& c, const std::string& cmd);
  /// The outbound profile of `c` (null: none): its routing rule's
  /// (`outbound=`, or a `via=` naming a profile), else its user's, else the
  /// default. False when its user names a profile the config lacks (the
  /// request fails: never a wrong source).
  bool outbound_of(const conn& c, const outbound_profile*& p);

  // -- CONNECT and UDP ASSOCIATE through parent proxies (loop_upstream.cpp) ---
  bool start_via(conn& c, const socks5::request& req);
  bool start_udp_via(conn& c, const ip_endpoint& local);
  void begin_via(conn& c, const std::shared_ptr<const upstream_set>& set,
                 const parent_route* route);
  void udp_via_ready(conn& c);
  void next_parent(conn& c);
  void on_parent_resolved(conn_id id, uint32_t gen, resolve_result res);
  void on_parent_resolved_late(conn_id id, uint32_t gen, resolve_result res);
  /// `more`: the parent's name may still bring the other family.
  void connect_parent(conn& c, std::vector<ip_endpoint> addrs,
                      const outbound_profile* profile, bool more = false);
  void on_parent_connect(conn& c, const connect_outcome& out);
  /// What the connector says of a CONNECT's attempts: to a parent or to
  /// the target.
  void on_attempts(conn& c, const connect_outcome& out);
  void via_step(conn& c);
  void parent_failed(conn& c, connect_error err);
  void via_failed(conn& c, connect_error err);
  void via_succeeded(conn& c);
  void relay_step(conn& c);
  void udp_control(conn& c);

  // -- close (loop.cpp) ---
  void close_conn(conn& c, close_reason reason);
  void release_fds(conn& c);

  size_t index_;
  reactor_config cfg_;
  int ep_ = -1;
  task_queue tasks_;
  std::unique_ptr<wake_handler> wake_;
  loop_context ctx_;
  reporter reporter_;
  std::thread thread_;
  bool running_ = true;
  std::vector<listener*> listeners_;
  std::vector<std::unique_ptr<listener_watch>> listener_watches_;
  std::unordered_map<conn_id, std::unique_ptr<conn>> conns_;
  /// Connections closed in this batch of events (handlers may still point
  /// at them until the batch ends).
  std::vector<std::unique_ptr<conn>> graveyard_;
  std::atomic<size_t> count_{0};
  uint64_t seq_ = 0;
  /// When the idle sweep, counters and reaping run next.
  time_point next_tick_{};
  /// Accepting stopped after EMFILE/ENFILE until the next tick.
  bool accept_paused_ = false;
  /// Reused buffers for due deadlines and idle connections.
  std::vector<deadline> due_;
  std::vector<conn_id> idle_due_;
};

} // namespace px::net
