// clients/cli/admin_commands.cc — the Admin commands: `admin stats`
// (GetStats) and `admin rebuild` (RebuildProjections, a server stream whose
// progress is printed as it arrives).
//
//   dealwire admin stats --digest
//   dealwire admin rebuild            # exit 1 unless the rebuilt state is identical

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli/commands.h"
#include "fmt/format.h"

namespace dealwire::cli {
namespace {

void AddStatsCommand(CLI::App& admin, Context& ctx) {
  struct Opts {
    bool digest = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = admin.add_subcommand(
      "stats",
      "Shows the node's state (GetStats): the log's last position, the position the projections "
      "have applied and the lag between them, counts of organizations, deals, partnerships, "
      "facilities, retracted and corrected events, and events by type.\n\n"
      "Example:\n  dealwire admin stats\n  dealwire admin stats --digest --output json");
  cmd->add_flag("--digest", o->digest,
                "also compute the digest of the projection state (reads all of it)");
  cmd->callback([&ctx, o] {
    v1::GetStatsRequest req;
    req.set_include_digest(o->digest);
    v1::GetStatsResponse r;
    ctx.Check(ctx.admin().GetStats(ctx.Call().get(), req, &r));
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat("Node ", ctx.server));
    std::vector<std::pair<std::string, std::string>> rows = {
        {"last position", absl::StrCat(r.last_position())},
        {"projection position", absl::StrCat(r.projection_position())},
        {"projection lag", r.projection_lag() == 0
                               ? "0 (caught up)"
                               : ctx.Paint(absl::StrCat(r.projection_lag(), " events"), "33")},
        {"organizations", absl::StrCat(r.organizations())},
        {"deals", absl::StrCat(r.deals())},
        {"partnerships", absl::StrCat(r.partnerships())},
        {"facilities", absl::StrCat(r.facilities())},
        {"retracted events", absl::StrCat(r.retracted_events())},
        {"corrected events", absl::StrCat(r.corrected_events())},
    };
    if (!r.state_digest().empty()) rows.emplace_back("state digest", r.state_digest());
    KeyValues(ctx, rows);
    Print("\n");
    std::vector<std::pair<std::string, uint64_t>> types(r.events_by_type().begin(),
                                                        r.events_by_type().end());
    std::sort(types.begin(), types.end());
    Table t({"EVENT TYPE", ">EVENTS"});
    for (const auto& [type, count] : types) t.Row({type, absl::StrCat(count)});
    Print(t.Render(ctx));
  });
}

std::string Seconds(const google::protobuf::Duration& d) {
  return fmt::format("{:.3f} s", static_cast<double>(d.seconds()) + d.nanos() / 1e9);
}

void AddRebuildCommand(CLI::App& admin, Context& ctx) {
  CLI::App* cmd = admin.add_subcommand(
      "rebuild",
      "Rebuilds every projection from the log beside the live state, compares the two by digest "
      "at one position and switches to the rebuilt state (RebuildProjections). Progress is "
      "printed as it arrives (in json mode one object per message per line). Queries and appends "
      "go on meanwhile. Exits 1 when the rebuilt state is not identical to the live one, or when "
      "the rebuild fails (FAILED_PRECONDITION: another rebuild runs). Needs the admin role.\n\n"
      "Example:\n  dealwire admin rebuild\n  dealwire admin rebuild --output json");
  cmd->callback([&ctx] {
    std::unique_ptr<grpc::ClientContext> call = ctx.Call(/*streaming=*/true);
    v1::RebuildProjectionsRequest req;
    std::unique_ptr<grpc::ClientReader<v1::RebuildProjectionsResponse>> reader =
        ctx.admin().RebuildProjections(call.get(), req);
    std::optional<v1::RebuildDone> done;
    v1::RebuildProjectionsResponse msg;
    while (reader->Read(&msg)) {
      if (ctx.json()) {
        ctx.PrintJson(msg);
      } else if (msg.has_progress()) {
        const v1::RebuildProgress& p = msg.progress();
        const double pct = p.target_position() == 0
                               ? 100.0
                               : 100.0 * static_cast<double>(p.applied_position()) /
                                     static_cast<double>(p.target_position());
        Print(fmt::format("rebuilding: applied {} of {} ({:.0f} %), {:.0f} events/s\n",
                          p.applied_position(), p.target_position(), pct, p.events_per_second()));
      }
      if (msg.has_done()) done = msg.done();
    }
    ctx.Check(reader->Finish());
    if (!done.has_value()) {
      throw CommandError{kExitRefused, "rebuild: the server ended the stream without a result"};
    }
    if (!ctx.json()) {
      Print(fmt::format("done: {} events folded in {} ({:.0f} events/s), compared at position {}\n",
                        done->events(), Seconds(done->elapsed()), done->events_per_second(),
                        done->position()));
      KeyValues(ctx,
                {{"live digest", done->live_digest()},
                 {"rebuilt digest", done->rebuilt_digest()},
                 {"result", done->identical()
                                ? ctx.Paint("identical", "32")
                                : ctx.Paint("DIFFERENT (switched to the rebuilt state)", "31")}});
    }
    if (!done->identical()) {
      throw CommandError{
          kExitRefused, absl::StrCat("rebuild: the rebuilt state differs from the live state at "
                                     "position ",
                                     done->position(), " (live ", done->live_digest(), ", rebuilt ",
                                     done->rebuilt_digest(), ")")};
    }
  });
}

}  // namespace

void AddAdminCommands(CLI::App& app, Context& ctx) {
  CLI::App* admin = app.add_subcommand(
      "admin",
      "Operations on the node: its statistics and rebuilding the projections.\n\n"
      "Example:\n  dealwire admin stats\n  dealwire admin rebuild");
  admin->require_subcommand(1);
  AddStatsCommand(*admin, ctx);
  AddRebuildCommand(*admin, ctx);
}

}  // namespace dealwire::cli
