// tapstackctl: a gRPC client of tapstackd for people and scripts.
#include <iostream>

#include "server/ctl/args.h"
#include "server/ctl/commands.h"

int main(int argc, char** argv) {
  using namespace tapstack::ctl;
  try {
    CommandLine cl = parse_command_line(argc, argv);
    if (cl.global.help) {
      std::cout << usage();
      return 0;
    }
    return run_command(cl);
  } catch (const UsageError& e) {
    std::cerr << "tapstackctl: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
}
