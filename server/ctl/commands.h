// tapstackctl's commands: each makes one or a few gRPC calls and prints the result.
#pragma once

#include "server/ctl/args.h"

namespace tapstack::ctl {

// Runs `cl.command`; returns the process's exit code. Throws UsageError.
int run_command(CommandLine& cl);

}  // namespace tapstack::ctl
