#include "clients/cli/commands.h"

namespace dealwire::cli {

void AddAdminCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}

}  // namespace dealwire::cli
