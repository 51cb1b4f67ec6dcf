#include "net/task_queue.hpp"

#include <cstdint>

#include <sys/eventfd.h>
#include <unistd.h>

namespace px::net {

task_queue::task_queue() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
}

task_queue::~task_queue() {
  if (fd_ >= 0)
    ::close(fd_);
}

void task_queue::post(std::function<void()> f) {
  bool notify;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    notify = tasks_.empty();
    tasks_.push_back(std::move(f));
  }
  if (notify)
    wake();
}

void task_queue::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof(one));
}

void task_queue::run() {
  uint64_t v;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof(v));
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    tasks.swap(tasks_);
  }
  for (auto& f : tasks)
    f();
}

} // namespace px::net
