// dealwire — the Dealwire command-line client.
//
//   dealwire cap-table openai
//   dealwire --output json timeline openai
//   dealwire record investment --investor amazon --company openai --amount "50B USD" ...
//
// Talks to dealwired over gRPC (dealwire.v1.EventStore, MarketIntel, Admin).
// Exit codes: 0 success, 1 refused by the server, 2 bad input (nothing was
// sent), 3 server unreachable, 130 interrupted. See docs/cli.md.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "clients/cli/cli.h"
#include "clients/cli/commands.h"

#ifndef DEALWIRE_VERSION
#define DEALWIRE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using dealwire::cli::CommandError;
  using dealwire::cli::Context;
  using dealwire::cli::Output;
  Context ctx;
  CLI::App app{
      "dealwire " DEALWIRE_VERSION
      " - the Dealwire command line: query cap tables, portfolios, timelines and deals, "
      "record claims, import and tail the event log.\n\n"
      "Examples:\n"
      "  dealwire cap-table openai\n"
      "  dealwire portfolio amazon --output json\n"
      "  dealwire record investment --investor amazon --company openai --amount \"50B USD\" \\\n"
      "      --stage in-talks --effective 2026-01 --source https://example.com/a --confidence "
      "reported\n"
      "  dealwire tail --org openai\n",
      "dealwire"};
  app.require_subcommand(1);
  // Global flags may come after the command too: dealwire cap-table openai -o json
  app.fallthrough();
  app.set_version_flag("--version", "dealwire " DEALWIRE_VERSION);
  app.add_option("--server", ctx.server, "HOST:PORT of dealwired")
      ->envname("DEALWIRE_SERVER")
      ->capture_default_str();
  std::string output = "table";
  app.add_option("-o,--output", output, "table (aligned, for people) or json (protobuf JSON, one object per line)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", ctx.timeout_seconds, "seconds to wait for each call (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.footer(
      "Colour is used on a terminal unless NO_COLOR is set. Exit codes: 0 ok, 1 refused by the "
      "server, 2 bad input (nothing sent), 3 server unreachable, 130 interrupted.");
  app.parse_complete_callback([&] {
    ctx.output = output == "json" ? Output::kJson : Output::kTable;
    const char* no_color = std::getenv("NO_COLOR");
    ctx.color = isatty(STDOUT_FILENO) && (no_color == nullptr || no_color[0] == '\0');
  });

  dealwire::cli::AddQueryCommands(app, ctx);
  dealwire::cli::AddRecordCommands(app, ctx);
  dealwire::cli::AddEventCommands(app, ctx);
  dealwire::cli::AddAdminCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : dealwire::cli::kExitBadInput;
  } catch (const CommandError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "dealwire: %s\n", e.message.c_str());
    return e.exit_code;
  }
  return 0;
}
