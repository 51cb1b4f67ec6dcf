// proxyctl's SPCP commands (port 9090), one association per run: validate
// the command, read the password, log in, perform it, print the result,
// quit.
#pragma once

#include "admin/proxyctl_common.hpp"

namespace px::proxyctl {

/// Runs the SPCP command of `opt`; returns the exit code.
int run_spcp(const options& opt);

} // namespace px::proxyctl
