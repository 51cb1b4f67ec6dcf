#include "net/reactor/transform.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace px::net {

void reaper::reap() {
  for (size_t i = 0; i < zombies_.size();) {
    if (waitpid(zombies_[i], nullptr, WNOHANG) != 0) {
      zombies_[i] = zombies_.back();
      zombies_.pop_back();
    } else {
      ++i;
    }
  }
}

void reaper::reap_all() {
  for (auto pid : zombies_)
    waitpid(pid, nullptr, 0);
  zombies_.clear();
}

bool transform_proc::spawn(const std::string& cmd, side_owner* owner) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return false;
  if (pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // The program gets fds 0-2 and nothing else of ours, whatever a library
  // opened without close-on-exec (usrsctp's sockets, say).
  posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so that what it forks dies with it.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                                    | POSIX_SPAWN_SETPGROUP);
  const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
  int rc = posix_spawn(&pid_, "/bin/sh", &fa, &attr, const_cast<char**>(argv),
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    pid_ = -1;
    errno = rc;
    return false;
  }
  input.fd = in[1];
  output.fd = out[0];
  for (auto* s : {&input, &output}) {
    fcntl(s->fd, F_SETFL, O_NONBLOCK);
    s->sock = false;
    s->owner = owner;
  }
  return true;
}

void transform_proc::stop(reaper& r) {
  input.close();
  output.close();
  if (pid_ > 0) {
    // The whole group: `sleep 1000; cat` or `cat | sleep 1000` leave no
    // orphan. Nobody reaps the shell before this, so its pid (the group's
    // id) cannot have been reused yet.
    ::kill(-pid_, SIGKILL);
    if (waitpid(pid_, nullptr, WNOHANG) == 0)
      r.add(pid_); // reaped on a later tick
    pid_ = -1;
  }
}

} // namespace px::net
