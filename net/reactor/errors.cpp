#include "net/reactor/errors.hpp"

#include <cerrno>

#include <ares.h>

namespace px::net {

const char* to_string(connect_error x) {
  switch (x) {
    case connect_error::none:
      return "none";
    case connect_error::refused:
      return "refused";
    case connect_error::network_unreachable:
      return "network-unreachable";
    case connect_error::host_unreachable:
      return "host-unreachable";
    case connect_error::name_not_found:
      return "name-not-found";
    case connect_error::timeout:
      return "timeout";
    case connect_error::denied:
      return "denied";
    case connect_error::resolver_failure:
      return "resolver-failure";
    case connect_error::other:
      return "other";
    case connect_error::address_unsupported:
      return "address-unsupported";
    case connect_error::command_unsupported:
      return "command-unsupported";
  }
  return "unknown";
}

const char* to_string(close_reason x) {
  switch (x) {
    case close_reason::done:
      return "done";
    case close_reason::requested:
      return "requested";
    case close_reason::client_gone:
      return "client-gone";
    case close_reason::upstream_error:
      return "upstream-error";
    case close_reason::idle_timeout:
      return "idle-timeout";
    case close_reason::shutdown:
      return "shutdown";
    case close_reason::transform_failed:
      return "transform-failed";
    case close_reason::handshake_timeout:
      return "handshake-timeout";
  }
  return "unknown";
}

connect_error from_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return connect_error::refused;
    case ENETUNREACH:
    case ENETDOWN:
      return connect_error::network_unreachable;
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case EADDRNOTAVAIL:
      return connect_error::host_unreachable;
    case ETIMEDOUT:
      return connect_error::timeout;
    default:
      return connect_error::other;
  }
}

connect_error from_ares_status(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
    case ARES_EBADNAME:
      return connect_error::name_not_found;
    case ARES_ETIMEOUT:
      return connect_error::timeout;
    default:
      return connect_error::resolver_failure;
  }
}

} // namespace px::net
