// proxyctl's Manager commands (port 9091, one request per association):
// build the request, read the passwords, log in, send it, print the reply.
#pragma once

#include <string>

#include "admin/proxyctl_common.hpp"

namespace px::proxyctl {

/// True when `name` is a command of the Manager protocol.
bool is_manager_command(const std::string& name);

/// Runs the Manager command of `opt`; returns the exit code.
int run_manager(const options& opt);

} // namespace px::proxyctl
