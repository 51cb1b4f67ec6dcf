#include "actors/reload_desk.hpp"

#include <utility>

#include <caf/all.hpp>

namespace px {

void reload_desk_state::enqueue(promise rp) {
  if (full())
    return;
  if (running) {
    next.push_back(std::move(rp));
    return;
  }
  current.push_back(std::move(rp));
  running = true;
  ring();
}

void reload_desk_state::finished(const reload_outcome& outcome) {
  if (!running)
    return; // not asked for (nothing waits)
  for (auto& rp : current)
    rp.deliver(outcome);
  current = std::move(next);
  next.clear();
  running = !current.empty();
  if (running)
    ring();
}

reload_desk_actor::behavior_type
reload_desk(reload_desk_actor::stateful_pointer<reload_desk_state> self,
            std::function<void()> ring) {
  self->state.ring = std::move(ring);
  return {
    [=](reload_atom) -> caf::result<reload_outcome> {
      if (self->state.full())
        return caf::make_error(caf::sec::runtime_error,
                               "too many reload requests waiting");
      auto rp = self->make_response_promise<reload_outcome>();
      self->state.enqueue(rp);
      return rp;
    },
    [=](const reload_outcome& outcome) { self->state.finished(outcome); },
  };
}

} // namespace px
