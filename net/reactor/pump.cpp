#include "net/reactor/pump.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/socket.h>

namespace px::net {

namespace {

bool would_block() {
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

} // namespace

pump::~pump() {
  release();
}

void pump::start(side& src, side& dst, const pump_config& cfg, pipe_pool& pool) {
  src_ = &src;
  dst_ = &dst;
  pool_ = &pool;
  cap_ = std::max<size_t>(cfg.cap, 1);
  splice_ = cfg.splice && cfg.splice_after == 0;
  splice_later_ = cfg.splice && cfg.splice_after > 0;
  splice_after_ = cfg.splice_after;
}

void pump::set_prefix(std::vector<uint8_t> head, std::vector<uint8_t> data) {
  prefix_ = std::move(head);
  prefix_data_from_ = prefix_.size();
  prefix_.insert(prefix_.end(), data.begin(), data.end());
  prefix_off_ = 0;
}

void pump::shape(rate_bucket* bucket, std::atomic<uint64_t>* counter) {
  bucket_ = bucket;
  counter_ = counter;
}

pump_result pump::step(limit_clock::time_point now) {
  pump_result r;
  now_ = now;
  resume_ = {};
  for (;;) {
    bool moved = false;
    if (!write_prefix(r, moved))
      return r;
    if (!prefix_.empty())
      break; // the destination is full: nothing may overtake the prefix
    if (!deliver(r, moved))
      return r;
    if (held_ == 0)
      on_empty();
    if (!fill(moved)) {
      r.status = pump_status::error;
      r.failed = src_;
      return r;
    }
    if (!moved)
      break;
    r.status = pump_status::progress;
  }
  // An idle direction holds no pipe and no buffer: 5 000 idle tunnels must
  // not cost 20 000 pipe descriptors or 640 MB of buffers.
  if (held_ == 0)
    release();
  r.resume = resume_;
  if (counter_ != nullptr && r.delivered > 0)
    counter_->fetch_add(r.delivered, std::memory_order_relaxed);
  return r;
}

size_t pump::allowance(size_t room) {
  // Whole reads: wait for 16 KiB (or the room) rather than read a few
  // bytes at a time.
  constexpr size_t quantum = 16 * 1024;
  if (bucket_ == nullptr || bucket_->unlimited())
    return room;
  limit_clock::time_point retry;
  auto k = bucket_->grant(now_, room, quantum, retry);
  if (k == 0)
    resume_ = retry;
  return k;
}

void pump::settle(ssize_t n, size_t granted) {
  if (bucket_ == nullptr)
    return;
  auto used = n > 0 ? static_cast<size_t>(n) : 0;
  if (used < granted)
    bucket_->refund(granted - used);
}

bool pump::write_prefix(pump_result& r, bool& moved) {
  while (prefix_off_ < prefix_.size() && dst_->wr) {
    auto n = dst_->write_some(prefix_.data() + prefix_off_,
                              prefix_.size() - prefix_off_);
    if (n > 0) {
      auto k = static_cast<size_t>(n);
      auto from = std::max(prefix_off_, prefix_data_from_);
      prefix_off_ += k;
      moved = true;
      if (prefix_off_ > from) { // the counted part
        moved_ += prefix_off_ - from;
        r.delivered += prefix_off_ - from;
      }
    } else if (!write_refused(n, r)) {
      return false;
    }
  }
  if (prefix_off_ == prefix_.size() && !prefix_.empty()) {
    std::vector<uint8_t>{}.swap(prefix_);
    prefix_off_ = 0;
  }
  return true;
}

bool pump::deliver(pump_result& r, bool& moved) {
  while (held_ > 0 && dst_->wr) {
    ssize_t n;
    if (splice_)
      n = splice(pipe_.rd, nullptr, dst_->fd, nullptr, held_,
                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    else
      n = dst_->write_some(buf_.get() + head_, tail_ - head_);
    if (n > 0) {
      auto k = static_cast<size_t>(n);
      held_ -= k;
      moved_ += k;
      r.delivered += k;
      moved = true;
      if (!splice_) {
        head_ += k;
        if (head_ == tail_)
          head_ = tail_ = 0;
      }
    } else if (!write_refused(n, r)) {
      return false;
    }
  }
  return true;
}

bool pump::write_refused(ssize_t n, pump_result& r) {
  if (n < 0 && would_block()) {
    dst_->wr = false; // the loop condition ends the writes
    return true;
  }
  if (n < 0 && errno == EINTR)
    return true; // write again
  r.status = pump_status::error;
  r.failed = dst_;
  return false;
}

void pump::on_empty() {
  // The buffer is empty, so no byte can overtake another at the switch.
  if (splice_later_ && moved_ >= splice_after_) {
    splice_later_ = false;
    buf_.reset();
    splice_ = true;
  }
}

size_t pump::copy_room() {
  if (!buf_)
    buf_.reset(new uint8_t[cap_]);
  if (tail_ == cap_ && head_ > 0) {
    std::memmove(buf_.get(), buf_.get() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  return cap_ - tail_;
}

bool pump::fill(bool& moved) {
  for (;;) {
    if (eof_ || !src_->rd || held_ >= cap_)
      return true;
    auto room = cap_ - held_;
    ssize_t n;
    if (splice_) {
      if (!pipe_.valid() && !pool_->acquire(pipe_, cap_)) {
        splice_ = false; // out of descriptors for pipes: copy instead
        continue;
      }
      if (held_ >= pipe_.capacity)
        return true; // the pipe is full: read once it drained
      room = allowance(std::min(room, pipe_.capacity - held_));
      if (room == 0)
        return true; // the bucket is empty: step again at resume_
      n = splice(src_->fd, nullptr, pipe_.wr, nullptr, room,
                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      settle(n, room);
    } else {
      room = allowance(copy_room());
      if (room == 0)
        return true; // the bucket is empty: step again at resume_
      n = src_->read_some(buf_.get() + tail_, room);
      settle(n, room);
    }
    if (n > 0) {
      auto k = static_cast<size_t>(n);
      // A short read from a socket drained it: edge-triggered epoll reports
      // the next arrival, so skip the read that would only say EAGAIN (as
      // nginx does). A short splice proves nothing: the pipe holds one
      // buffer per socket fragment, however small, and can run out of
      // slots with bytes still queued on the socket, for which no new edge
      // comes (the stall of docs/performance.md).
      if (!splice_ && src_->sock && k < room && !src_->hup)
        src_->rd = false;
      held_ += k;
      if (!splice_)
        tail_ += k;
      moved = true;
    } else if (n == 0) {
      eof_ = true;
      moved = true;
    } else if (would_block()) {
      // With splice, EAGAIN may also mean "the pipe is full": only an
      // empty pipe proves the socket drained; otherwise read again once
      // the pipe has drained.
      if (!splice_ || held_ == 0)
        src_->rd = false;
    } else if (errno == EINTR) {
      continue;
    } else {
      return false;
    }
    return true;
  }
}

void pump::half_close(bool shutdown_socket) {
  if (shut_)
    return;
  if (shutdown_socket && dst_->sock && dst_->fd >= 0)
    ::shutdown(dst_->fd, SHUT_WR);
  shut_ = true;
  release();
}

void pump::release() {
  if (pipe_.valid())
    pool_->release(pipe_, held_ == 0);
  buf_.reset();
  // Bytes still held (a connection closing) went with the pipe or buffer.
  held_ = head_ = tail_ = 0;
}

} // namespace px::net
