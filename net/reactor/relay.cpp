#include "net/reactor/relay.hpp"

#include "net/reactor/loop_context.hpp"
#include "net/reactor/transform.hpp"

namespace px::net {

void relay::start(side& down, side& up, transform_proc* program,
                  const relay_options& opts, loop_context& ctx, account* user) {
  down_ = &down;
  up_ = &up;
  program_ = program;
  pump_config cfg;
  cfg.cap = opts.buffer_size;
  cfg.splice = opts.splice;
  cfg.splice_after = ctx.settings.splice_after;
  pumps_[0].start(down, up, cfg, ctx.pipes);
  if (!program) {
    npumps_ = 2;
    pumps_[1].start(up, down, cfg, ctx.pipes);
  } else {
    // A program's pipes are copied: they are not sockets, and its output
    // is rarely bulk.
    cfg.splice = false;
    npumps_ = 3;
    pumps_[1].start(up, program->input, cfg, ctx.pipes);
    pumps_[2].start(program->output, down, cfg, ctx.pipes);
  }
  if (user != nullptr) {
    // A user's limits apply where bytes leave the client and where they
    // reach it (after the program, if any).
    pumps_[0].shape(&user->up, &user->bytes_up);
    to_client().shape(&user->down, &user->bytes_down);
  }
}

pump& relay::to_client() {
  return pumps_[npumps_ - 1];
}

void relay::set_prefixes(std::vector<uint8_t> to_client_bytes,
                         std::vector<uint8_t> to_upstream,
                         std::vector<uint8_t> from_target) {
  if (program_ != nullptr) {
    to_client().set_prefix(std::move(to_client_bytes));
    pumps_[1].set_prefix({}, std::move(from_target)); // into the program
  } else {
    to_client().set_prefix(std::move(to_client_bytes), std::move(from_target));
  }
  pumps_[0].set_prefix({}, std::move(to_upstream));
}

bool relay::others_done(size_t i) const {
  for (size_t k = 0; k < npumps_; ++k)
    if (k != i && !pumps_[k].done())
      return false;
  return true;
}

relay_outcome relay::step(loop_context& ctx) {
  relay_outcome out;
  bool all_done = true;
  for (size_t i = 0; i < npumps_; ++i) {
    auto& p = pumps_[i];
    if (p.done())
      continue;
    auto r = p.step(ctx.now);
    if (r.resume != limit_clock::time_point{}
        && (out.resume == limit_clock::time_point{} || r.resume < out.resume))
      out.resume = r.resume;
    if (p.writes_to(*up_))
      ctx.traffic.bytes_up += r.delivered;
    else if (p.writes_to(*down_))
      ctx.traffic.bytes_down += r.delivered;
    if (r.status == pump_status::error) {
      out.status = relay_status::failed;
      out.reason = r.failed == down_ ? close_reason::client_gone
                   : r.failed == up_ ? close_reason::upstream_error
                                     : close_reason::transform_failed;
      return out;
    }
    if (r.status == pump_status::progress)
      out.status = relay_status::active;
    if (p.ended()) {
      // The last direction needs no shutdown: the connection closes now,
      // and close sends the FIN.
      p.half_close(!others_done(i));
      if (program_ && p.writes_to(program_->input)) {
        program_->close_input(); // EOF for the program
        out.input_closed = true;
      }
      out.status = relay_status::active;
    }
    all_done = all_done && p.done();
  }
  if (all_done)
    out.status = relay_status::done;
  return out;
}

uint64_t relay::bytes_up() const {
  return pumps_[0].moved();
}

uint64_t relay::bytes_down() const {
  return npumps_ == 0 ? 0 : pumps_[npumps_ - 1].moved();
}

bool relay::output_done() const {
  return npumps_ == 3 && pumps_[2].done();
}

void relay::release() {
  for (auto& p : pumps_)
    p.release();
}

} // namespace px::net
