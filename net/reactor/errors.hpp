// How system and resolver errors become the reactor's connect errors.
#pragma once

#include "net/conn_control.hpp"

namespace px::net {

/// The connect error for a socket errno.
connect_error from_errno(int err);

/// The connect error for a failed c-ares lookup status.
connect_error from_ares_status(int status);

} // namespace px::net
