#include "clients/cli/commands.h"

namespace dealwire::cli {

void AddRecordCommands(CLI::App& app, Context& ctx) {
  (void)app;
  (void)ctx;
}

}  // namespace dealwire::cli
