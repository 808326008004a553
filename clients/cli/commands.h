// clients/cli/commands.h — the command groups of `dealwire`, one file each.
#pragma once

#include "CLI/CLI.hpp"
#include "clients/cli/cli.h"

namespace dealwire::cli {

// query_commands.cc — MarketIntel: org get|list, cap-table, portfolio,
// timeline, valuations, deal, deals, partners, exposure, summary.
void AddQueryCommands(CLI::App& app, Context& ctx);

// admin_commands.cc — Admin: admin stats|rebuild.
void AddAdminCommands(CLI::App& app, Context& ctx);

// event_commands.cc — EventStore: events read|append, tail, import,
// subscriptions list|delete.
void AddEventCommands(CLI::App& app, Context& ctx);

// record_commands.cc — record <event type> with flags instead of JSON.
void AddRecordCommands(CLI::App& app, Context& ctx);

}  // namespace dealwire::cli
