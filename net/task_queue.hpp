// Work handed to an I/O thread from other threads: a queue of functions
// and an eventfd the thread's poll or epoll waits on. Used by the
// reactor's loops and the SCTP transports.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

namespace px::net {

class task_queue {
public:
  task_queue();
  ~task_queue();

  task_queue(const task_queue&) = delete;
  task_queue& operator=(const task_queue&) = delete;

  /// The descriptor to wait on (readable when tasks wait or on `wake`).
  int fd() const {
    return fd_;
  }

  /// Queues `f` for the I/O thread (any thread); wakes it when the queue
  /// was empty (it runs every task queued before it drains the queue).
  void post(std::function<void()> f);

  /// Wakes the I/O thread without a task.
  void wake();

  /// On the I/O thread: consumes the wake-up and runs the queued tasks.
  void run();

private:
  int fd_ = -1;
  std::mutex mtx_;
  std::vector<std::function<void()>> tasks_;
};

} // namespace px::net
