// clients/cli/query_commands.cc — the MarketIntel commands: org get|list,
// cap-table, portfolio, timeline, valuations, deal, deals, partners,
// exposure, summary. One command per RPC; every one takes the point-in-time
// flags of its request (AddAsOfFlags) and prints either the whole response as
// one line of protobuf JSON (--output json) or aligned tables for people.
//
//   dealwire cap-table openai --include-pending --min-confidence reported
//   dealwire --output json deals --investor amazon --overdue --effective-on 2026-04-01

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/parse.h"
#include "google/protobuf/timestamp.pb.h"

namespace dealwire::cli {
namespace {

// --- Point-in-time flags -----------------------------------------------------

// The flags every query takes, as typed; parsed (and refused with exit 2)
// only when the command runs.
struct AsOfFlags {
  std::string known_at_position;
  std::string known_at_time;
  std::string effective_on;
  std::string min_confidence;
  std::string min_position;
};

// Adds --as-of-position, --as-of-time, --effective-on, --min-confidence and
// --min-position to `cmd`, bound to `f` (which must outlive the parse).
void AddAsOfFlags(CLI::App* cmd, AsOfFlags* f) {
  const std::string group = "Point in time";
  CLI::Option* position =
      cmd->add_option("--as-of-position", f->known_at_position,
                      "what we knew then: only events at or before this log position count")
          ->type_name("POSITION")
      ->group(group);
  cmd->add_option("--as-of-time", f->known_at_time,
                  "what we knew then, by recorded time: RFC 3339 (2026-01-28T12:00:00Z) or a day "
                  "(its midnight UTC)")
      ->excludes(position)
      ->type_name("TIME")
      ->group(group);
  cmd->add_option("--effective-on", f->effective_on,
                  "what was true on this day (2026-01-28), by what we know; also the day deals "
                  "are judged overdue against (default: today)")
      ->type_name("DAY")
      ->group(group);
  cmd->add_option("--min-confidence", f->min_confidence,
                  "leave out claims below this confidence: rumored, reported, confirmed, official")
      ->type_name("LEVEL")
      ->group(group);
  cmd->add_option("--min-position", f->min_position,
                  "read your writes: wait (within --timeout) until the server has applied this "
                  "log position")
      ->type_name("POSITION")
      ->group(group);
}

uint64_t ParsePosition(absl::string_view field, const std::string& text) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    BadInput(field, absl::StrCat("'", text, "' is not a log position (a whole number)"));
  }
  return v;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds down: the rest is >= 0
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

// Sets `request`'s as_of and min_position (0 when not given) from the flags.
// Throws CommandError (exit 2) naming the flag for bad input.
template <typename Request>
void ApplyAsOf(const AsOfFlags& f, Request* request) {
  v1::AsOf as_of;
  if (!f.known_at_position.empty()) {
    const uint64_t p = ParsePosition("--as-of-position", f.known_at_position);
    if (p == 0) BadInput("--as-of-position", "log positions start at 1");
    as_of.set_known_at_position(p);
  }
  if (!f.known_at_time.empty()) {
    *as_of.mutable_known_at_time() = ToTimestamp(ParseTimestamp("--as-of-time", f.known_at_time));
  }
  if (!f.effective_on.empty()) {
    *as_of.mutable_effective_on() = ParseDay("--effective-on", f.effective_on);
  }
  if (!f.min_confidence.empty()) {
    as_of.set_min_confidence(ParseConfidence("--min-confidence", f.min_confidence));
  }
  request->set_min_position(
      f.min_position.empty() ? 0 : ParsePosition("--min-position", f.min_position));
  if (as_of.ByteSizeLong() > 0) *request->mutable_as_of() = std::move(as_of);
}

// Calls one MarketIntel RPC with the --timeout deadline; throws on failure.
template <typename Request, typename Response>
Response Query(Context& ctx,
               grpc::Status (v1::MarketIntel::Stub::*method)(grpc::ClientContext*, const Request&,
                                                             Response*),
               const Request& request) {
  Response response;
  ctx.Check((ctx.intel().*method)(ctx.Call().get(), request, &response));
  return response;
}

// --- Typed flags ---------------------------------------------------------------

// A quarter flag: "2026-Q1".
v1::EffectiveDate ParseQuarter(absl::string_view field, absl::string_view text) {
  v1::EffectiveDate e = ParseEffective(field, text);
  if (e.precision() != v1::DATE_PRECISION_QUARTER) {
    BadInput(field, absl::StrCat("'", text, "' is not a quarter (use 2026-Q1)"));
  }
  return e;
}

// --- Formatting ----------------------------------------------------------------

// "OpenAI (openai)"; just the id when there is no other name.
std::string Named(const std::string& name, const std::string& id) {
  if (name.empty() || name == id) return id.empty() ? "-" : id;
  return absl::StrCat(name, " (", id, ")");
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

std::string JoinOrDash(const google::protobuf::RepeatedPtrField<std::string>& items,
                       absl::string_view separator = ", ") {
  return items.empty() ? "-" : absl::StrJoin(items, separator);
}

// One Money per currency: "$50.0B, €4.0M"; "-" when none.
std::string MoneyList(const google::protobuf::RepeatedPtrField<v1::Money>& amounts) {
  if (amounts.empty()) return "-";
  std::vector<std::string> parts;
  for (const v1::Money& m : amounts) parts.push_back(FormatMoney(m));
  return absl::StrJoin(parts, ", ");
}

bool HasMoney(const v1::Money& m) {
  return !m.currency_code().empty() || m.units() != 0 || m.nanos() != 0;
}

// "up to $50.0B", "at least $8.0B", "about $10.0B", "$6.6B"; "-" when unset.
std::string Bounded(const v1::Money& m, v1::AmountBound bound) {
  if (!HasMoney(m)) return "-";
  switch (bound) {
    case v1::AMOUNT_BOUND_UP_TO:
      return absl::StrCat("up to ", FormatMoney(m));
    case v1::AMOUNT_BOUND_AT_LEAST:
      return absl::StrCat("at least ", FormatMoney(m));
    case v1::AMOUNT_BOUND_APPROXIMATE:
      return absl::StrCat("about ", FormatMoney(m));
    default:
      return FormatMoney(m);
  }
}

// "12.34 %", "2.00–4.00 % (minority)", "unknown (substantial)", "unknown".
std::string Ownership(const v1::OwnershipEstimate& e) {
  if (!e.known()) {
    return e.qualifier().empty() ? "unknown" : absl::StrCat("unknown (", e.qualifier(), ")");
  }
  v1::OwnershipFraction f;
  if (e.has_range()) {
    *f.mutable_range() = e.range();
  } else {
    *f.mutable_exact() = e.fraction();
  }
  f.set_qualifier(e.qualifier());
  return FormatOwnership(f);
}

// "in-talks $50.0B; closed $8.0B (2 deals)"; a stage whose deals state no
// amount: "rumored (no amount)".
std::string ByStage(const google::protobuf::RepeatedPtrField<v1::StageAmount>& stages) {
  if (stages.empty()) return "-";
  std::vector<std::string> parts;
  for (const v1::StageAmount& s : stages) {
    std::string part = EnumLabel(s.stage());
    if (s.amounts().empty()) {
      absl::StrAppend(&part, s.deal_count() > 1
                                 ? absl::StrCat(" (", s.deal_count(), " deals, no amount)")
                                 : std::string(" (no amount)"));
    } else {
      absl::StrAppend(&part, " ", MoneyList(s.amounts()));
      if (s.deal_count() > 1) absl::StrAppend(&part, " (", s.deal_count(), " deals)");
    }
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, "; ");
}

// Prints the dim closing line: the position the answer reflects and, for
// lists, how to get the next page.
void Footer(const Context& ctx, uint64_t as_of_position, const std::string& next_page_token = "") {
  std::string out = absl::StrCat("as of log position ", as_of_position);
  if (!next_page_token.empty()) {
    absl::StrAppend(&out, "; more: repeat with --page-token ", next_page_token);
  }
  Print(ctx.Paint(out, "2") + "\n");
}

// Footnotes of "unknown" ownerships: the cell gets " [n]", the reason is
// listed after the table.
class Footnotes {
 public:
  std::string Cell(const v1::OwnershipEstimate& e) {
    std::string cell = Ownership(e);
    if (!e.known() && !e.unknown_reason().empty()) {
      // One note per distinct reason: many holders share "round … has no
      // post-money valuation".
      auto it = std::find(reasons_.begin(), reasons_.end(), e.unknown_reason());
      if (it == reasons_.end()) it = reasons_.insert(reasons_.end(), e.unknown_reason());
      absl::StrAppend(&cell, " [", it - reasons_.begin() + 1, "]");
    }
    return cell;
  }
  std::string Render() const {
    std::string out;
    for (size_t i = 0; i < reasons_.size(); ++i) {
      absl::StrAppend(&out, "[", i + 1, "] ", reasons_[i], "\n");
    }
    return out;
  }

 private:
  std::vector<std::string> reasons_;
};

std::string PendingCell(const Context& ctx, bool pending) {
  return pending ? ctx.Paint("pending", "33") : "";
}

// --- org get | list --------------------------------------------------------------

void AddOrgCommands(CLI::App& app, Context& ctx) {
  CLI::App* org = app.add_subcommand(
      "org",
      "Organizations: one with its parent, subsidiaries, sectors and aliases, or a list by name "
      "prefix.\n\nExample:\n  dealwire org get amazon\n  dealwire org list \"amazon web\"");
  org->require_subcommand(1);

  struct GetOpts {
    std::string org_id;
    AsOfFlags as_of;
  };
  auto get = std::make_shared<GetOpts>();
  CLI::App* get_cmd = org->add_subcommand(
      "get",
      "Shows one organization (GetOrganization): name, kind, sectors, aliases, parent, "
      "subsidiaries, website, founding date, description and how many claims touch it.\n\n"
      "Example:\n  dealwire org get openai\n  dealwire org get amazon --output json");
  get_cmd->add_option("ORG", get->org_id, "organization id, e.g. openai")->required();
  AddAsOfFlags(get_cmd, &get->as_of);
  get_cmd->callback([&ctx, get] {
    v1::GetOrganizationRequest req;
    req.set_org_id(get->org_id);
    ApplyAsOf(get->as_of, &req);
    const v1::GetOrganizationResponse r = Query(ctx, &v1::MarketIntel::Stub::GetOrganization, req);
    if (ctx.json()) return ctx.PrintJson(r);
    const v1::Organization& o = r.organization();
    Title(ctx, Named(o.name(), o.org_id()));
    std::vector<std::pair<std::string, std::string>> rows = {
        {"kind", EnumLabel(o.kind())},
        {"sectors", JoinOrDash(o.sectors())},
        {"aliases", JoinOrDash(o.aliases(), "; ")},
        {"parent", OrDash(o.parent_org_id())},
        {"subsidiaries", JoinOrDash(o.subsidiary_ids())},
        {"founded", FormatEffective(o.founded())},
        {"website", OrDash(o.website())},
        {"claims", absl::StrCat(o.claim_count())},
        {"registered", absl::StrCat("at log position ", o.registered_position())},
    };
    if (!o.description().empty()) rows.emplace_back("description", o.description());
    KeyValues(ctx, rows);
    Footer(ctx, r.as_of_position());
  });

  struct ListOpts {
    std::string prefix;
    std::string kind;
    std::string sector;
    int limit = 0;
    std::string page_token;
    AsOfFlags as_of;
  };
  auto list = std::make_shared<ListOpts>();
  CLI::App* list_cmd = org->add_subcommand(
      "list",
      "Lists organizations whose name or an alias starts with PREFIX (case-insensitive), "
      "ordered by id, a page at a time (ListOrganizations).\n\n"
      "Example:\n  dealwire org list\n  dealwire org list \"amazon web\"\n"
      "  dealwire org list --kind sovereign-fund --limit 20");
  list_cmd->add_option("PREFIX", list->prefix, "name or alias prefix; none lists all");
  list_cmd->add_option("--kind", list->kind,
                       "only this kind: company, investor, fund, sovereign-fund, government, "
                       "nonprofit");
  list_cmd->add_option("--sector", list->sector, "only this sector, e.g. ai-foundation-models");
  list_cmd->add_option("--limit", list->limit, "at most this many per page (1..1000; default 100)")
      ->check(CLI::Range(1, 1000));
  list_cmd->add_option("--page-token", list->page_token, "the next page, from the previous one");
  AddAsOfFlags(list_cmd, &list->as_of);
  list_cmd->callback([&ctx, list] {
    v1::ListOrganizationsRequest req;
    req.set_name_prefix(list->prefix);
    if (!list->kind.empty()) req.set_kind(ParseEnum<v1::OrganizationKind>("--kind", list->kind));
    req.set_sector(list->sector);
    req.set_page_size(list->limit);
    req.set_page_token(list->page_token);
    ApplyAsOf(list->as_of, &req);
    const v1::ListOrganizationsResponse r =
        Query(ctx, &v1::MarketIntel::Stub::ListOrganizations, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Table t({"ID", "NAME", "KIND", "SECTORS", "PARENT", "ALIASES"});
    for (const v1::Organization& o : r.organizations()) {
      t.Row({o.org_id(), o.name(), EnumLabel(o.kind()), JoinOrDash(o.sectors()),
             OrDash(o.parent_org_id()), JoinOrDash(o.aliases(), "; ")});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position(), r.next_page_token());
  });
}

// --- cap-table, portfolio ----------------------------------------------------------

void AddCapTableCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string company;
    bool include_pending = false;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "cap-table",
      "Shows a company's estimated cap table (GetCapTable): per holder the estimated ownership "
      "(\"unknown\" where the numbers are missing, never made up), committed and closed amounts "
      "per currency, amounts by deal stage, the weakest confidence and the latest source. "
      "Closed deals only, unless --include-pending (pro forma).\n\n"
      "Example:\n  dealwire cap-table openai\n  dealwire cap-table openai --include-pending "
      "--min-confidence reported\n  dealwire cap-table openai --as-of-position 30 "
      "--effective-on 2025-12-31");
  cmd->add_option("COMPANY", o->company, "company id, e.g. openai")->required();
  cmd->add_flag("--include-pending", o->include_pending,
                "pro forma: fold deals that have not closed as if they had (marked pending)");
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetCapTableRequest req;
    req.set_company_id(o->company);
    req.set_include_pending(o->include_pending);
    ApplyAsOf(o->as_of, &req);
    const v1::GetCapTableResponse r = Query(ctx, &v1::MarketIntel::Stub::GetCapTable, req);
    if (ctx.json()) return ctx.PrintJson(r);
    const v1::CapTable& c = r.cap_table();
    Title(ctx, absl::StrCat("Cap table of ", Named(c.company_name(), c.company_id()), " — ",
                            c.include_pending()
                                ? "pro forma: deals not yet closed included (marked pending)"
                                : "closed deals only"));
    Footnotes notes;
    Table t({"HOLDER", "OWNERSHIP", ">COMMITTED", ">CLOSED", "BY STAGE", "CONFIDENCE", "SOURCE",
             "NOTE"});
    for (const v1::Holding& h : c.holders()) {
      t.Row({Named(h.name(), h.org_id()), notes.Cell(h.ownership()), MoneyList(h.committed()),
             MoneyList(h.closed()), ByStage(h.amounts_by_stage()), FormatConfidence(h.confidence()),
             FormatSources(h.sources()), PendingCell(ctx, h.pending())});
    }
    Print(t.Render(ctx));
    KeyValues(ctx, {
                       {"unattributed", absl::StrCat(notes.Cell(c.unattributed()),
                                                     "  new money of priced rounds not "
                                                     "attributed to a reported investor")},
                       {"remainder", absl::StrCat(notes.Cell(c.remainder()),
                                                  "  founders, employees, unknown holders")},
                       {"rounds applied", JoinOrDash(c.applied_round_ids())},
                   });
    Print(notes.Render());
    Footer(ctx, r.as_of_position());
  });
}

void AddPortfolioCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string investor;
    bool include_pending = false;
    bool direct_only = false;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "portfolio",
      "Shows an investor's portfolio (GetPortfolio): its line in the cap table of every company "
      "it invested in or holds a stake in, with its subsidiaries' holdings rolled up (HELD BY), "
      "and totals per currency.\n\n"
      "Example:\n  dealwire portfolio amazon --include-pending\n"
      "  dealwire portfolio microsoft --direct-only --output json");
  cmd->add_option("INVESTOR", o->investor, "investor (any organization) id, e.g. amazon")
      ->required();
  cmd->add_flag("--include-pending", o->include_pending,
                "pro forma: fold deals that have not closed as if they had (marked pending)");
  cmd->add_flag("--direct-only", o->direct_only,
                "leave out the holdings of the investor's subsidiaries");
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetPortfolioRequest req;
    req.set_investor_id(o->investor);
    req.set_include_pending(o->include_pending);
    req.set_direct_only(o->direct_only);
    ApplyAsOf(o->as_of, &req);
    const v1::GetPortfolioResponse r = Query(ctx, &v1::MarketIntel::Stub::GetPortfolio, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat(
                   "Portfolio of ", Named(r.investor_name(), r.investor_id()), " — ",
                   o->include_pending ? "pro forma: deals not yet closed included (marked pending)"
                                      : "closed deals only",
                   o->direct_only ? ", direct holdings only" : ", subsidiaries rolled up"));
    Footnotes notes;
    Table t({"COMPANY", "HELD BY", "OWNERSHIP", ">COMMITTED", ">CLOSED", "BY STAGE", "CONFIDENCE",
             "SOURCE", "NOTE"});
    for (const v1::Holding& h : r.holdings()) {
      t.Row({Named(h.name(), h.org_id()), h.via_org_id().empty() ? r.investor_id() : h.via_org_id(),
             notes.Cell(h.ownership()), MoneyList(h.committed()), MoneyList(h.closed()),
             ByStage(h.amounts_by_stage()), FormatConfidence(h.confidence()),
             FormatSources(h.sources()), PendingCell(ctx, h.pending())});
    }
    Print(t.Render(ctx));
    KeyValues(ctx, {{"total committed", MoneyList(r.total_committed())},
                    {"total closed", MoneyList(r.total_closed())}});
    Print(notes.Render());
    Footer(ctx, r.as_of_position());
  });
}

// --- timeline, valuations ------------------------------------------------------------

void AddTimelineCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string org;
    std::vector<std::string> types;
    bool descending = false;
    int limit = 0;
    std::string page_token;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "timeline",
      "Lists every claim touching an organization by effective date (GetTimeline): when, what "
      "kind of claim, a one-line summary, the amount, confidence, source and log position; a "
      "page at a time.\n\n"
      "Example:\n  dealwire timeline openai\n"
      "  dealwire timeline openai --type InvestmentReported --type FundingRoundReported "
      "--descending --limit 10");
  cmd->add_option("ORG", o->org, "organization id, e.g. openai")->required();
  cmd->add_option("--type", o->types,
                  "only claims of this payload type, e.g. InvestmentReported (repeatable)");
  cmd->add_flag("--descending", o->descending, "newest first");
  cmd->add_option("--limit", o->limit, "at most this many per page (1..1000; default 100)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--page-token", o->page_token, "the next page, from the previous one");
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetTimelineRequest req;
    req.set_org_id(o->org);
    for (const std::string& type : o->types) req.add_event_types(type);
    req.set_descending(o->descending);
    req.set_page_size(o->limit);
    req.set_page_token(o->page_token);
    ApplyAsOf(o->as_of, &req);
    const v1::GetTimelineResponse r = Query(ctx, &v1::MarketIntel::Stub::GetTimeline, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat("Timeline of ", o->org, o->descending ? ", newest first" : ""));
    Table t({"EFFECTIVE", "TYPE", "SUMMARY", ">AMOUNT", "CONFIDENCE", "SOURCE", ">POSITION"});
    for (const v1::TimelineEntry& e : r.entries()) {
      std::string summary = e.summary();
      if (e.corrected_at_position() != 0) {
        absl::StrAppend(
            &summary, " ",
            ctx.Paint(absl::StrCat("(corrected at ", e.corrected_at_position(), ")"), "33"));
      }
      t.Row({FormatEffective(e.effective()), e.event_type(), summary,
             Bounded(e.amount(), e.amount_bound()), FormatConfidence(e.confidence()),
             FormatSources(e.sources()), absl::StrCat(e.position())});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position(), r.next_page_token());
  });
}

void AddValuationsCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string company;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "valuations",
      "Lists a company's valuations over time (GetValuationHistory): reported valuations and the "
      "post-money valuations of its rounds, by effective date, with their bounds (\"at least\", "
      "\"up to\").\n\n"
      "Example:\n  dealwire valuations openai\n"
      "  dealwire valuations anthropic --min-confidence confirmed");
  cmd->add_option("COMPANY", o->company, "company id, e.g. openai")->required();
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetValuationHistoryRequest req;
    req.set_company_id(o->company);
    ApplyAsOf(o->as_of, &req);
    const v1::GetValuationHistoryResponse r =
        Query(ctx, &v1::MarketIntel::Stub::GetValuationHistory, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat("Valuations of ", o->company));
    Table t({"EFFECTIVE", ">VALUATION", "BASIS", "ROUND", "CONFIDENCE", "SOURCE", ">POSITION"});
    for (const v1::ValuationPoint& p : r.points()) {
      t.Row({FormatEffective(p.effective()), Bounded(p.valuation(), p.bound()),
             EnumLabel(p.basis()), OrDash(p.round_id()), FormatConfidence(p.confidence()),
             FormatSources(p.sources()), absl::StrCat(p.position())});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position());
  });
}

// --- deal, deals -----------------------------------------------------------------------

std::string ExpectedClose(const Context& ctx, const v1::Deal& d) {
  std::string out = FormatEffective(d.expected_close());
  if (d.overdue()) absl::StrAppend(&out, " ", ctx.Paint("overdue", "31"));
  return out;
}

void AddDealCommands(CLI::App& app, Context& ctx) {
  struct GetOpts {
    std::string deal;
    AsOfFlags as_of;
  };
  auto get = std::make_shared<GetOpts>();
  CLI::App* get_cmd = app.add_subcommand(
      "deal",
      "Shows one deal — a funding round, an investment or an acquisition (GetDeal): current "
      "stage and since when, latest amount, valuations, expected close (and whether it is "
      "overdue), and its stage history.\n\n"
      "Example:\n  dealwire deal amazon-openai-2026\n"
      "  dealwire deal amazon-openai-2026 --effective-on 2026-04-01   # overdue by then?");
  get_cmd->add_option("DEAL", get->deal, "deal id (round, investment or acquisition id)")
      ->required();
  AddAsOfFlags(get_cmd, &get->as_of);
  get_cmd->callback([&ctx, get] {
    v1::GetDealRequest req;
    req.set_deal_id(get->deal);
    ApplyAsOf(get->as_of, &req);
    const v1::GetDealResponse r = Query(ctx, &v1::MarketIntel::Stub::GetDeal, req);
    if (ctx.json()) return ctx.PrintJson(r);
    const v1::Deal& d = r.deal();
    Title(ctx, absl::StrCat("Deal ", d.deal_id(), " — ", EnumLabel(d.kind()), ", ",
                            EnumLabel(d.stage())));
    std::vector<std::pair<std::string, std::string>> rows = {
        {"company", OrDash(d.company_id())},
    };
    if (!d.investor_id().empty()) {
      rows.emplace_back(d.kind() == v1::DEAL_KIND_ACQUISITION ? "acquirer" : "investor",
                        d.investor_id());
    }
    if (!d.round_id().empty()) rows.emplace_back("round", d.round_id());
    if (!d.label().empty()) rows.emplace_back("label", d.label());
    if (d.instrument() != v1::INSTRUMENT_UNSPECIFIED) {
      rows.emplace_back("instrument", EnumLabel(d.instrument()));
    }
    rows.emplace_back("stage", absl::StrCat(EnumLabel(d.stage()), " since ",
                                            FormatEffective(d.stage_since())));
    rows.emplace_back("amount", Bounded(d.amount(), d.amount_bound()));
    if (HasMoney(d.pre_money_valuation())) {
      rows.emplace_back("pre-money", FormatMoney(d.pre_money_valuation()));
    }
    if (HasMoney(d.post_money_valuation())) {
      rows.emplace_back("post-money", FormatMoney(d.post_money_valuation()));
    }
    rows.emplace_back("expected close", ExpectedClose(ctx, d));
    rows.emplace_back("first reported", FormatEffective(d.first_reported()));
    if (!d.lead_investor_ids().empty()) {
      rows.emplace_back("lead investors", absl::StrJoin(d.lead_investor_ids(), ", "));
    }
    rows.emplace_back("confidence", FormatConfidence(d.confidence()));
    rows.emplace_back("source", FormatSources(d.sources()));
    KeyValues(ctx, rows);
    Print("\n");
    Title(ctx, "Stage history");
    Table t({"EFFECTIVE", "STAGE", ">AMOUNT", "CONFIDENCE", "CLAIM", ">POSITION"});
    for (const v1::StageStep& s : d.history()) {
      t.Row({FormatEffective(s.effective()), EnumLabel(s.stage()),
             HasMoney(s.amount()) ? FormatMoney(s.amount()) : "-", FormatConfidence(s.confidence()),
             s.event_type(), absl::StrCat(s.position())});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position());
  });

  struct ListOpts {
    std::string company;
    std::string investor;
    std::string stage;
    std::string kind;
    bool overdue = false;
    int limit = 0;
    std::string page_token;
    AsOfFlags as_of;
  };
  auto list = std::make_shared<ListOpts>();
  CLI::App* list_cmd = app.add_subcommand(
      "deals",
      "Lists deals by company, investor or acquirer, stage, kind or overdue state, ordered by "
      "deal id, a page at a time (ListDeals). Filters combine with AND.\n\n"
      "Example:\n  dealwire deals --company openai\n"
      "  dealwire deals --investor amazon --stage in-talks\n"
      "  dealwire deals --overdue --effective-on 2026-04-01");
  list_cmd->add_option("--company", list->company, "only deals of this company");
  list_cmd->add_option("--investor", list->investor, "only deals of this investor or acquirer");
  list_cmd->add_option("--stage", list->stage,
                       "only deals at this stage: rumored, in-talks, agreed, announced, closed, "
                       "collapsed");
  list_cmd->add_option("--kind", list->kind,
                       "only deals of this kind: round, investment, "
                       "acquisition");
  list_cmd->add_flag("--overdue", list->overdue,
                     "only overdue deals: expected close passed (against --effective-on, or "
                     "today) without closing or collapsing");
  list_cmd->add_option("--limit", list->limit, "at most this many per page (1..1000; default 100)")
      ->check(CLI::Range(1, 1000));
  list_cmd->add_option("--page-token", list->page_token, "the next page, from the previous one");
  AddAsOfFlags(list_cmd, &list->as_of);
  list_cmd->callback([&ctx, list] {
    v1::ListDealsRequest req;
    req.set_company_id(list->company);
    req.set_investor_id(list->investor);
    if (!list->stage.empty()) req.set_stage(ParseEnum<v1::DealStage>("--stage", list->stage));
    if (!list->kind.empty()) req.set_kind(ParseEnum<v1::DealKind>("--kind", list->kind));
    req.set_overdue_only(list->overdue);
    req.set_page_size(list->limit);
    req.set_page_token(list->page_token);
    ApplyAsOf(list->as_of, &req);
    const v1::ListDealsResponse r = Query(ctx, &v1::MarketIntel::Stub::ListDeals, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Table t({"DEAL", "KIND", "COMPANY", "INVESTOR", "STAGE", ">AMOUNT", "EXPECTED CLOSE",
             "CONFIDENCE"});
    for (const v1::Deal& d : r.deals()) {
      t.Row({d.deal_id(), EnumLabel(d.kind()), OrDash(d.company_id()), OrDash(d.investor_id()),
             EnumLabel(d.stage()), Bounded(d.amount(), d.amount_bound()), ExpectedClose(ctx, d),
             FormatConfidence(d.confidence())});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position(), r.next_page_token());
  });
}

// --- partners, exposure ------------------------------------------------------------------

// "AWS (aws) → amazon: cloud-provider, training-provider; Anthropic (anthropic): customer".
std::string Parties(const google::protobuf::RepeatedPtrField<v1::PartnerView>& parties) {
  std::vector<std::pair<std::string, std::vector<std::string>>> by_org;  // in order of appearance
  for (const v1::PartnerView& p : parties) {
    std::string who = Named(p.name(), p.org_id());
    if (!p.rolled_up_to().empty()) absl::StrAppend(&who, " → ", p.rolled_up_to());
    auto it =
        std::find_if(by_org.begin(), by_org.end(), [&](const auto& e) { return e.first == who; });
    if (it == by_org.end()) it = by_org.insert(by_org.end(), {who, {}});
    it->second.push_back(EnumLabel(p.role()));
  }
  std::vector<std::string> out;
  for (const auto& [who, roles] : by_org) {
    out.push_back(absl::StrCat(who, ": ", absl::StrJoin(roles, ", ")));
  }
  return absl::StrJoin(out, "; ");
}

void AddPartnersCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string org;
    bool direct_only = false;
    bool include_ended = false;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "partners",
      "Lists an organization's partnerships (ListPartnerships): the parties with their roles, "
      "each subsidiary shown rolled up to its parent (aws → amazon), primary or exclusive terms, "
      "value, when formed and whether still active. Includes the subsidiaries' partnerships "
      "unless --direct-only.\n\n"
      "Example:\n  dealwire partners anthropic\n  dealwire partners amazon --include-ended");
  cmd->add_option("ORG", o->org, "organization id, e.g. anthropic")->required();
  cmd->add_flag("--direct-only", o->direct_only,
                "only the organization's own partnerships, not its subsidiaries'");
  cmd->add_flag("--include-ended", o->include_ended, "also partnerships that have ended");
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::ListPartnershipsRequest req;
    req.set_org_id(o->org);
    req.set_direct_only(o->direct_only);
    req.set_include_ended(o->include_ended);
    ApplyAsOf(o->as_of, &req);
    const v1::ListPartnershipsResponse r =
        Query(ctx, &v1::MarketIntel::Stub::ListPartnerships, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat("Partnerships of ", o->org));
    Table t(
        {"PARTNERSHIP", "PARTIES", "TERMS", ">VALUE", "FORMED", "STATUS", "CONFIDENCE", "SOURCE"});
    for (const v1::Partnership& p : r.partnerships()) {
      std::vector<std::string> terms;
      if (p.primary()) terms.push_back("primary");
      if (p.exclusive()) terms.push_back("exclusive");
      t.Row({p.partnership_id(), Parties(p.parties()),
             terms.empty() ? "-" : absl::StrJoin(terms, ", "), Bounded(p.value(), p.value_bound()),
             FormatEffective(p.formed()),
             p.active() ? "active" : absl::StrCat("ended ", FormatEffective(p.ended())),
             FormatConfidence(p.confidence()), FormatSources(p.sources())});
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position());
  });
}

void AddExposureCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string org;
    bool closed_only = false;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "exposure",
      "Shows an organization's competitive exposure (GetExposure): the sectors in which it, with "
      "its subsidiaries, is tied to two or more companies — by investment, acquisition, "
      "disclosed stake, active partnership or facility — one line per tie.\n\n"
      "Example:\n  dealwire exposure amazon\n  dealwire exposure amazon --closed-only");
  cmd->add_option("ORG", o->org, "organization (investor or partner) id, e.g. amazon")->required();
  cmd->add_flag("--closed-only", o->closed_only,
                "count only closed investments and acquisitions (stakes, active partnerships and "
                "facilities always count)");
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetExposureRequest req;
    req.set_org_id(o->org);
    req.set_closed_only(o->closed_only);
    ApplyAsOf(o->as_of, &req);
    const v1::GetExposureResponse r = Query(ctx, &v1::MarketIntel::Stub::GetExposure, req);
    if (ctx.json()) return ctx.PrintJson(r);
    Title(ctx, absl::StrCat("Competitive exposure of ", r.org_id(), " (with subsidiaries) — ",
                            o->closed_only ? "closed deals only" : "every deal not collapsed"));
    Table t({"SECTOR", "COMPANY", "TIE", "SUBJECT", "VIA", "STAGE / ROLES", "CONFIDENCE"});
    for (const v1::SectorExposure& s : r.exposures()) {
      bool first_of_sector = true;
      for (const v1::ExposedCompany& c : s.companies()) {
        bool first_of_company = true;
        for (const v1::Tie& tie : c.ties()) {
          std::string detail;
          if (tie.stage() != v1::DEAL_STAGE_UNSPECIFIED) detail = EnumLabel(tie.stage());
          std::vector<std::string> roles;
          for (int role : tie.roles()) {
            roles.push_back(EnumLabel(static_cast<v1::PartnershipRole>(role)));
          }
          if (!roles.empty()) {
            detail = absl::StrCat(detail, detail.empty() ? "" : "; ", absl::StrJoin(roles, ", "));
          }
          t.Row({first_of_sector ? s.sector() : "",
                 first_of_company ? Named(c.name(), c.company_id()) : "", EnumLabel(tie.kind()),
                 OrDash(tie.subject_id()), OrDash(tie.via_org_id()), OrDash(detail),
                 FormatConfidence(tie.confidence())});
          first_of_sector = first_of_company = false;
        }
      }
    }
    Print(t.Render(ctx));
    Footer(ctx, r.as_of_position());
  });
}

// --- summary ---------------------------------------------------------------------------

// Adds `m` to `sum` (same currency), exactly.
void AddMoney(v1::Money* sum, const v1::Money& m) {
  constexpr int64_t kNano = 1000000000;
  sum->set_currency_code(m.currency_code());
  int64_t units = sum->units() + m.units();
  int64_t nanos = static_cast<int64_t>(sum->nanos()) + m.nanos();
  units += nanos / kNano;
  nanos %= kNano;
  if (units > 0 && nanos < 0) {
    --units;
    nanos += kNano;
  } else if (units < 0 && nanos > 0) {
    ++units;
    nanos -= kNano;
  }
  sum->set_units(units);
  sum->set_nanos(static_cast<int32_t>(nanos));
}

void AddSummaryCommand(CLI::App& app, Context& ctx) {
  struct Opts {
    std::vector<std::string> by;
    std::string from_quarter;
    std::string to_quarter;
    std::string sector;
    std::string kind;
    bool exclude_collapsed = false;
    int largest = 0;
    AsOfFlags as_of;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "summary",
      "Shows capital by quarter × sector × stage × deal kind, per currency — amounts in "
      "different currencies are never added together — and the largest deals per currency "
      "(GetMarketSummary). --by keeps only some of quarter, stage and kind in the table; sector "
      "is always kept, since a company in two sectors counts in both.\n\n"
      "Example:\n  dealwire summary\n  dealwire summary --by quarter --from 2025-Q1 --to 2026-Q1\n"
      "  dealwire summary --sector ai-foundation-models --kind investment --exclude-collapsed");
  cmd->add_option("--by", o->by,
                  "group the table by these (comma-separated): quarter, sector, stage, kind "
                  "(default: all; sector is always kept)")
      ->delimiter(',')
      ->check(CLI::IsMember({"quarter", "sector", "stage", "kind"}));
  cmd->add_option("--from", o->from_quarter, "only quarters from this one, e.g. 2025-Q1");
  cmd->add_option("--to", o->to_quarter, "only quarters up to this one, inclusive, e.g. 2026-Q1");
  cmd->add_option("--sector", o->sector, "only this sector, e.g. ai-foundation-models");
  cmd->add_option("--kind", o->kind, "only this kind of deal: round, investment, acquisition");
  cmd->add_flag("--exclude-collapsed", o->exclude_collapsed, "leave out collapsed deals");
  cmd->add_option("--largest", o->largest,
                  "how many of the largest deals to list per currency (0..100; default 10)")
      ->check(CLI::Range(0, 100));
  AddAsOfFlags(cmd, &o->as_of);
  cmd->callback([&ctx, o] {
    v1::GetMarketSummaryRequest req;
    if (!o->from_quarter.empty())
      *req.mutable_from_quarter() = ParseQuarter("--from", o->from_quarter);
    if (!o->to_quarter.empty()) *req.mutable_to_quarter() = ParseQuarter("--to", o->to_quarter);
    req.set_sector(o->sector);
    if (!o->kind.empty()) req.set_kind(ParseEnum<v1::DealKind>("--kind", o->kind));
    req.set_exclude_collapsed(o->exclude_collapsed);
    req.set_largest_deals_limit(o->largest);
    ApplyAsOf(o->as_of, &req);
    const v1::GetMarketSummaryResponse r =
        Query(ctx, &v1::MarketIntel::Stub::GetMarketSummary, req);
    if (ctx.json()) return ctx.PrintJson(r);

    auto kept = [&](absl::string_view dim) {
      return o->by.empty() || std::find(o->by.begin(), o->by.end(), dim) != o->by.end();
    };
    const bool by_quarter = kept("quarter"), by_stage = kept("stage"), by_kind = kept("kind");
    // Buckets arrive ordered by quarter, sector, stage, kind, currency; a
    // map on the same key (with dropped dimensions zeroed) keeps that order.
    using Key = std::tuple<int, int, std::string, int, int, std::string>;
    struct Cell {
      v1::EffectiveDate quarter;
      v1::Money total;
      int deals = 0;
    };
    std::map<Key, Cell> cells;
    for (const v1::SummaryBucket& b : r.buckets()) {
      const Key key{by_quarter ? b.quarter().date().year() : 0,
                    by_quarter ? b.quarter().date().month() : 0,
                    b.sector(),
                    by_stage ? static_cast<int>(b.stage()) : 0,
                    by_kind ? static_cast<int>(b.kind()) : 0,
                    b.total().currency_code()};
      Cell& cell = cells[key];
      cell.quarter = b.quarter();
      AddMoney(&cell.total, b.total());
      cell.deals += b.deal_count();
    }
    std::vector<std::string> dims;
    if (by_quarter) dims.push_back("quarter");
    dims.push_back("sector");
    if (by_stage) dims.push_back("stage");
    if (by_kind) dims.push_back("kind");
    Title(ctx, absl::StrCat("Capital by ", absl::StrJoin(dims, " × "),
                            ", per currency (never summed across currencies)"));
    std::vector<std::string> headers;
    if (by_quarter) headers.push_back("QUARTER");
    headers.push_back("SECTOR");
    if (by_stage) headers.push_back("STAGE");
    if (by_kind) headers.push_back("KIND");
    headers.push_back(">DEALS");
    headers.push_back(">TOTAL");
    Table t(headers);
    for (const auto& [key, cell] : cells) {
      std::vector<std::string> row;
      if (by_quarter) row.push_back(FormatEffective(cell.quarter));
      row.push_back(std::get<2>(key));
      if (by_stage) row.push_back(EnumLabel(static_cast<v1::DealStage>(std::get<3>(key))));
      if (by_kind) row.push_back(EnumLabel(static_cast<v1::DealKind>(std::get<4>(key))));
      row.push_back(absl::StrCat(cell.deals));
      row.push_back(FormatMoney(cell.total));
      t.Row(std::move(row));
    }
    Print(t.Render(ctx));
    Print("\n");
    Title(ctx, "Largest deals, per currency");
    Table largest(
        {">#", "DEAL", "KIND", "COMPANY", "INVESTOR", "STAGE", ">AMOUNT", "SINCE", "CONFIDENCE"});
    std::string currency;
    int rank = 0;
    for (const v1::Deal& d : r.largest_deals()) {
      if (d.amount().currency_code() != currency) {
        currency = d.amount().currency_code();
        rank = 0;
      }
      largest.Row({absl::StrCat(++rank), d.deal_id(), EnumLabel(d.kind()),
                   OrDash(d.company_id()), OrDash(d.investor_id()), EnumLabel(d.stage()),
                   Bounded(d.amount(), d.amount_bound()), FormatEffective(d.stage_since()),
                   FormatConfidence(d.confidence())});
    }
    Print(largest.Render(ctx));
    Footer(ctx, r.as_of_position());
  });
}

}  // namespace

void AddQueryCommands(CLI::App& app, Context& ctx) {
  AddOrgCommands(app, ctx);
  AddCapTableCommand(app, ctx);
  AddPortfolioCommand(app, ctx);
  AddTimelineCommand(app, ctx);
  AddValuationsCommand(app, ctx);
  AddDealCommands(app, ctx);
  AddPartnersCommand(app, ctx);
  AddExposureCommand(app, ctx);
  AddSummaryCommand(app, ctx);
}

}  // namespace dealwire::cli
