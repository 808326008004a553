// record_commands.cc — `dealwire record <type>`: one command per domain event
// type, building the event from flags instead of JSON and appending it with
// EventStore.Append.
//
//   dealwire record investment --investor amazon --company openai --amount "50B USD"
//       --stage in-talks --effective 2026-01 --source https://example.com/a --confidence reported
//
// Every flag is parsed and checked before anything is sent (bad input: exit 2
// naming the flag). The event id is a fresh random UUID unless --event-id is
// given, and is printed, so a failed or uncertain call can be repeated with it
// without recording the claim twice. User documentation: docs/cli-record.md.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/parse.h"
#include "common/event_types.h"
#include "dealwire/v1/events.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dealwire::cli {
namespace {

// ---------------------------------------------------------------------------
// The envelope flags every record command shares
// ---------------------------------------------------------------------------

struct Envelope {
  std::string effective;
  std::string confidence;
  std::vector<std::string> sources;     // URLs
  std::vector<std::string> publishers;  // matched to sources by position
  std::vector<std::string> titles;
  std::vector<std::string> published;
  std::string event_id;
  std::string stream;
  std::string expected_version;
  bool dry_run = false;
};

struct EnvelopeSpec {
  // What --effective means for this event type (for --help).
  std::string effective_help = "when it happened in the world: 2026-01-28, 2026-01, 2026-Q1 or 2026";
  // The convention the default stream follows (for --help).
  std::string stream_help;
  // --confidence when not given; empty: the flag is required.
  std::string confidence_default;
};

CLI::Option* Repeatable(CLI::Option* opt) { return opt->allow_extra_args(false); }

void AddEnvelopeFlags(CLI::App* cmd, Envelope* env, const EnvelopeSpec& spec) {
  cmd->add_option("--effective", env->effective, spec.effective_help)->group("Claim");
  cmd->add_option("--confidence", env->confidence,
                  spec.confidence_default.empty()
                      ? std::string("how well the claim is established: rumored, reported, "
                                    "confirmed or official (required)")
                      : absl::StrCat("rumored, reported, confirmed or official (default: ",
                                     spec.confidence_default, ")"))
      ->group("Claim");
  Repeatable(cmd->add_option("--source", env->sources,
                             "URL of a source (repeatable, most authoritative first)"))
      ->group("Claim");
  Repeatable(cmd->add_option("--publisher", env->publishers,
                             "publisher of the source at the same place (repeatable; default: "
                             "the URL's host, e.g. reuters.com)"))
      ->group("Claim");
  Repeatable(cmd->add_option("--title", env->titles, "title of the source at the same place"))
      ->group("Claim");
  Repeatable(cmd->add_option("--published", env->published,
                             "publication date of the source at the same place (2026-01-28, "
                             "2026-01 or 2026)"))
      ->group("Claim");
  cmd->add_option("--event-id", env->event_id,
                  "the event's UUID (default: a new random one, printed; re-run with it to retry "
                  "without recording twice)")
      ->group("Append");
  cmd->add_option("--stream", env->stream, absl::StrCat("stream to append to (default: ", spec.stream_help, ")"))
      ->group("Append");
  cmd->add_option("--expected-version", env->expected_version,
                  "append only if the stream is at this version: a number, any, no-stream or "
                  "exists (default: any)")
      ->group("Append");
  cmd->add_flag("--dry-run", env->dry_run, "print the event as JSON and send nothing")
      ->group("Append");
}

std::vector<v1::Source> ParseSources(const Envelope& env) {
  const size_t n = std::max(env.sources.size(), env.publishers.size());
  if (env.titles.size() > n) BadInput("--title", "more --title than --source or --publisher");
  if (env.published.size() > n) {
    BadInput("--published", "more --published than --source or --publisher");
  }
  if (n > 20) BadInput("--source", "at most 20 sources per event");
  std::vector<v1::Source> out;
  for (size_t i = 0; i < n; ++i) {
    v1::Source s;
    if (i < env.sources.size()) s.set_url(ParseUrl("--source", env.sources[i]));
    if (i < env.publishers.size()) {
      s.set_publisher(ParseText("--publisher", env.publishers[i], 200));
    } else {
      s.set_publisher(ParseText("--publisher", UrlHost(s.url()), 200));
    }
    if (i < env.titles.size()) s.set_title(ParseText("--title", env.titles[i], 500, false));
    if (i < env.published.size()) {
      const v1::EffectiveDate d = ParseEffectiveInYears("--published", env.published[i], 1000, 2200);
      if (d.precision() == v1::DATE_PRECISION_QUARTER) {
        BadInput("--published", "use a day, a month or a year (2026-01-28, 2026-01, 2026)");
      }
      *s.mutable_published_date() = d.date();
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Fills the client-set envelope fields. `effective` is the date to use when
// --effective is not given (nullopt: --effective is required).
v1::Event MakeEvent(const Envelope& env, const EnvelopeSpec& spec,
                    std::optional<v1::EffectiveDate> default_effective = std::nullopt) {
  v1::Event e;
  e.set_event_id(env.event_id.empty() ? NewEventId() : ParseEventId("--event-id", env.event_id));
  if (!env.effective.empty()) {
    *e.mutable_effective() = ParseEffective("--effective", env.effective);
  } else if (default_effective.has_value()) {
    *e.mutable_effective() = *default_effective;
  } else {
    BadInput("--effective",
             "required: when it happened in the world (2026-01-28, 2026-01, 2026-Q1 or 2026)");
  }
  if (!env.confidence.empty()) {
    e.set_confidence(ParseConfidence("--confidence", env.confidence));
  } else if (!spec.confidence_default.empty()) {
    e.set_confidence(ParseConfidence("--confidence", spec.confidence_default));
  } else {
    BadInput("--confidence", "required: rumored, reported, confirmed or official");
  }
  for (v1::Source& s : ParseSources(env)) *e.add_sources() = std::move(s);
  return e;
}

std::string ParseStream(absl::string_view field, absl::string_view text) {
  if (text.empty() || text.size() > 200) BadInput(field, "a stream name is 1..200 bytes");
  for (char c : text) {
    if (c < 0x21 || c > 0x7E) {
      BadInput(field, absl::StrCat("'", text, "': a stream name is printable ASCII without spaces"));
    }
  }
  return std::string(text);
}

// Appends `event` to --stream or `default_stream` and prints the outcome;
// with --dry-run prints the event and sends nothing.
void Submit(Context& ctx, const Envelope& env, v1::Event event, const std::string& default_stream) {
  const std::string stream = env.stream.empty() ? default_stream : ParseStream("--stream", env.stream);
  event.set_stream(stream);
  v1::AppendRequest request;
  request.set_stream(stream);
  if (!env.expected_version.empty()) {
    *request.mutable_expected_version() =
        ParseExpectedVersion("--expected-version", env.expected_version);
  }
  *request.add_events() = event;
  if (env.dry_run) return ctx.PrintJson(event);

  v1::AppendResponse r;
  ctx.Check(ctx.events().Append(ctx.Call().get(), request, &r));
  if (ctx.json()) return ctx.PrintJson(r);
  std::string out =
      r.duplicate()
          ? ctx.Paint(absl::StrCat("Already recorded: ", common::EventTypeName(event.payload()),
                                   " with this event id and content is stored; nothing written."),
                      "33")
          : ctx.Paint(absl::StrCat("Recorded ", common::EventTypeName(event.payload()), "."), "32");
  out += "\n";
  Table t({"EVENT ID", "STREAM", ">VERSION", ">POSITION"});
  t.Row({event.event_id(), stream, std::to_string(r.first_stream_version()),
         std::to_string(r.first_position())});
  out += t.Render(ctx);
  Print(out);
}

// ---------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------

struct Amount {
  std::optional<v1::Money> money;
  v1::AmountBound bound = v1::AMOUNT_BOUND_UNSPECIFIED;
};

// Parses a money flag (which may start with "up to", "at least", "about"…)
// and its bound flag; they must not contradict each other.
Amount ParseAmount(absl::string_view flag, const std::string& text, absl::string_view bound_flag,
                   const std::string& bound_text) {
  Amount a;
  if (!text.empty()) a.money = ParseBoundedMoney(flag, text, &a.bound);
  if (!bound_text.empty()) {
    const auto b = ParseEnum<v1::AmountBound>(bound_flag, bound_text);
    if (!a.money.has_value()) BadInput(bound_flag, absl::StrCat("needs ", flag));
    if (a.bound != v1::AMOUNT_BOUND_UNSPECIFIED && a.bound != b) {
      BadInput(bound_flag, absl::StrCat("contradicts the words of ", flag, " '", text, "'"));
    }
    a.bound = b;
  }
  return a;
}

std::optional<v1::EffectiveDate> OptionalDate(absl::string_view flag, const std::string& text) {
  if (text.empty()) return std::nullopt;
  return ParseEffective(flag, text);
}

// "<a>-<b>-<year>" as a default deal id.
std::string DerivedDealId(absl::string_view flag, absl::string_view a, absl::string_view b,
                          const v1::Event& e) {
  const std::string id = absl::StrCat(a, "-", b, "-", e.effective().date().year());
  if (id.size() > 100) BadInput(flag, absl::StrCat("the derived id '", id, "' is too long; give ", flag));
  return id;
}

const std::string kBoundHelp =
    "how the figure relates to the true one: exact, approximate, at-least, up-to (also from the "
    "amount's words: \"up to 50B USD\")";

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

void AddOrg(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, name, kind, parent, founded, description, website;
    std::vector<std::string> sectors, aliases;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.effective_help = "date of the claim (default: --founded, as in the seed data)";
  spec.stream_help = "org/<id>";
  CLI::App* cmd = record.add_subcommand(
      "org",
      "Register an organization (OrganizationRegistered).\n\n"
      "Example:\n"
      "  dealwire record org --id openai --name OpenAI --kind company --founded 2015 \\\n"
      "      --sector ai-foundation-models --alias \"OpenAI Global, LLC\" \\\n"
      "      --website https://openai.com --source https://openai.com/about --confidence official");
  cmd->add_option("--id", o->id, "organization id, e.g. openai")->required();
  cmd->add_option("--name", o->name, "display name, e.g. OpenAI")->required();
  cmd->add_option("--kind", o->kind,
                  absl::StrCat("kind: ", EnumChoices(v1::OrganizationKind_descriptor())))
      ->required();
  cmd->add_option("--parent", o->parent, "id of the controlling organization (aws → amazon)");
  Repeatable(cmd->add_option("--sector", o->sectors, "sector slug (repeatable)"));
  Repeatable(cmd->add_option("--alias", o->aliases, "another name (repeatable)"));
  cmd->add_option("--founded", o->founded, "founding date: 2015, 2015-12 or 2015-12-11");
  cmd->add_option("--description", o->description, "short description");
  cmd->add_option("--website", o->website, "home page URL");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::OrganizationRegistered* r = p.mutable_organization_registered();
    r->set_org_id(ParseId("--id", o->id));
    r->set_name(ParseText("--name", o->name, 200));
    r->set_kind(ParseEnum<v1::OrganizationKind>("--kind", o->kind));
    if (!o->parent.empty()) {
      r->set_parent_org_id(ParseId("--parent", o->parent));
      if (r->parent_org_id() == r->org_id()) BadInput("--parent", "an organization is not its own parent");
    }
    if (o->sectors.size() > 20) BadInput("--sector", "at most 20 sectors");
    for (const std::string& s : o->sectors) r->add_sectors(ParseSector("--sector", s));
    if (o->aliases.size() > 50) BadInput("--alias", "at most 50 aliases");
    for (const std::string& a : o->aliases) r->add_aliases(ParseText("--alias", a, 200));
    std::optional<v1::EffectiveDate> founded;
    if (!o->founded.empty()) {
      founded = ParseEffectiveInYears("--founded", o->founded, 1000, 2200);
      *r->mutable_founded() = *founded;
    }
    r->set_description(ParseText("--description", o->description, 4000, false));
    if (!o->website.empty()) r->set_website(ParseUrl("--website", o->website));
    if (o->env.effective.empty() && !founded.has_value()) {
      BadInput("--effective", "required unless --founded is given (2026-01-28, 2026-01, 2026-Q1 or 2026)");
    }
    v1::Event e = MakeEvent(o->env, spec, founded);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("org/", e.payload().organization_registered().org_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddOrgUpdate(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, name, kind, parent, founded, description, website;
    bool no_parent = false, clear_sectors = false;
    std::vector<std::string> sectors, add_aliases, remove_aliases;
    CLI::Option *name_opt, *kind_opt, *parent_opt, *description_opt, *website_opt, *founded_opt;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.effective_help = "when the change happened: 2026-01-28, 2026-01, 2026-Q1 or 2026 (required)";
  spec.stream_help = "org/<id>";
  CLI::App* cmd = record.add_subcommand(
      "org-update",
      "Change attributes of a registered organization (OrganizationUpdated); only the flags "
      "given change.\n\n"
      "Example:\n"
      "  dealwire record org-update --id openai --add-alias \"OpenAI Group PBC\" \\\n"
      "      --effective 2025-10 --source https://openai.com/index/built-to-benefit-everyone/ \\\n"
      "      --confidence official");
  cmd->add_option("--id", o->id, "the organization to update")->required();
  o->name_opt = cmd->add_option("--name", o->name, "new display name");
  o->kind_opt = cmd->add_option("--kind", o->kind,
                                absl::StrCat("new kind: ", EnumChoices(v1::OrganizationKind_descriptor())));
  o->parent_opt = cmd->add_option("--parent", o->parent, "new parent organization id");
  cmd->add_flag("--no-parent", o->no_parent, "remove the parent");
  Repeatable(cmd->add_option("--sector", o->sectors, "the new set of sectors (repeatable; replaces all)"));
  cmd->add_flag("--clear-sectors", o->clear_sectors, "remove every sector");
  Repeatable(cmd->add_option("--add-alias", o->add_aliases, "alias to add (repeatable)"));
  Repeatable(cmd->add_option("--remove-alias", o->remove_aliases, "alias to remove (repeatable)"));
  o->founded_opt = cmd->add_option("--founded", o->founded, "new founding date");
  o->description_opt = cmd->add_option("--description", o->description, "new description (\"\" clears it)");
  o->website_opt = cmd->add_option("--website", o->website, "new home page URL (\"\" clears it)");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::OrganizationUpdated* u = p.mutable_organization_updated();
    u->set_org_id(ParseId("--id", o->id));
    bool changed = false;
    if (o->name_opt->count() > 0) {
      u->set_name(ParseText("--name", o->name, 200));
      changed = true;
    }
    if (o->kind_opt->count() > 0) {
      u->set_kind(ParseEnum<v1::OrganizationKind>("--kind", o->kind));
      changed = true;
    }
    if (o->parent_opt->count() > 0 && o->no_parent) BadInput("--no-parent", "contradicts --parent");
    if (o->parent_opt->count() > 0) {
      u->set_parent_org_id(ParseId("--parent", o->parent));
      if (u->parent_org_id() == u->org_id()) BadInput("--parent", "an organization is not its own parent");
      changed = true;
    } else if (o->no_parent) {
      u->set_parent_org_id("");
      changed = true;
    }
    if (!o->sectors.empty() && o->clear_sectors) BadInput("--clear-sectors", "contradicts --sector");
    if (!o->sectors.empty() || o->clear_sectors) {
      if (o->sectors.size() > 20) BadInput("--sector", "at most 20 sectors");
      u->set_replace_sectors(true);
      for (const std::string& s : o->sectors) u->add_sectors(ParseSector("--sector", s));
      changed = true;
    }
    for (const std::string& a : o->add_aliases) {
      u->add_add_aliases(ParseText("--add-alias", a, 200));
      changed = true;
    }
    for (const std::string& a : o->remove_aliases) {
      if (std::find(o->add_aliases.begin(), o->add_aliases.end(), a) != o->add_aliases.end()) {
        BadInput("--remove-alias", absl::StrCat("'", a, "' is also in --add-alias"));
      }
      u->add_remove_aliases(ParseText("--remove-alias", a, 200));
      changed = true;
    }
    if (o->founded_opt->count() > 0) {
      *u->mutable_founded() = ParseEffectiveInYears("--founded", o->founded, 1000, 2200);
      changed = true;
    }
    if (o->description_opt->count() > 0) {
      u->set_description(ParseText("--description", o->description, 4000, false));
      changed = true;
    }
    if (o->website_opt->count() > 0) {
      u->set_website(o->website.empty() ? "" : ParseUrl("--website", o->website));
      changed = true;
    }
    if (!changed) {
      BadInput("--id", "nothing to change: give at least one of --name, --kind, --parent, "
                       "--no-parent, --sector, --clear-sectors, --add-alias, --remove-alias, "
                       "--founded, --description, --website");
    }
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("org/", e.payload().organization_updated().org_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddRound(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, company, label, stage, target, target_bound, pre_money, post_money,
        expected_close;
    std::vector<std::string> leads;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "deal/<id>";
  CLI::App* cmd = record.add_subcommand(
      "round",
      "Report a funding round (FundingRoundReported).\n\n"
      "Example:\n"
      "  dealwire record round --company openai --label strategic --stage in-talks \\\n"
      "      --target \"about 100B USD\" --expected-close 2026-Q1 --effective 2026-01 \\\n"
      "      --source https://example.com/openai-round --confidence reported");
  cmd->add_option("--id", o->id, "round id (default: <company>-<label>-<year of --effective>, e.g. openai-strategic-2026)");
  cmd->add_option("--company", o->company, "the company raising")->required();
  cmd->add_option("--label", o->label, "seed, series_a, series-b, strategic, bridge, ipo, …")->required();
  cmd->add_option("--stage", o->stage, absl::StrCat("stage: ", EnumChoices(v1::DealStage_descriptor())))
      ->required();
  cmd->add_option("--target", o->target, "total sought or raised, e.g. \"100B USD\"");
  cmd->add_option("--target-bound", o->target_bound, kBoundHelp);
  cmd->add_option("--pre-money", o->pre_money, "valuation before the new money");
  cmd->add_option("--post-money", o->post_money, "valuation after the new money");
  cmd->add_option("--expected-close", o->expected_close, "expected closing period, e.g. 2026-Q1");
  Repeatable(cmd->add_option("--lead", o->leads, "lead investor id (repeatable)"));
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::FundingRoundReported* r = p.mutable_funding_round_reported();
    r->set_company_id(ParseId("--company", o->company));
    std::string label = absl::AsciiStrToLower(absl::StripAsciiWhitespace(o->label));
    for (char& c : label) {
      if (c == '-' || c == ' ') c = '_';
    }
    bool label_ok = !label.empty() && label.size() <= 64 && absl::ascii_islower(label[0]);
    for (char c : label) {
      label_ok = label_ok && (absl::ascii_islower(static_cast<unsigned char>(c)) ||
                              absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_');
    }
    if (!label_ok) {
      BadInput("--label", absl::StrCat("'", o->label, "' is not a round label: a lower_snake_case "
                                                      "word such as seed, series_a, strategic"));
    }
    r->set_label(label);
    r->set_stage(ParseEnum<v1::DealStage>("--stage", o->stage));
    const Amount target = ParseAmount("--target", o->target, "--target-bound", o->target_bound);
    if (target.money) *r->mutable_target_amount() = *target.money;
    r->set_target_amount_bound(target.bound);
    if (!o->pre_money.empty()) *r->mutable_pre_money_valuation() = ParseMoney("--pre-money", o->pre_money);
    if (!o->post_money.empty()) {
      *r->mutable_post_money_valuation() = ParseMoney("--post-money", o->post_money);
    }
    if (r->has_pre_money_valuation() && r->has_post_money_valuation()) {
      const v1::Money& pre = r->pre_money_valuation();
      const v1::Money& post = r->post_money_valuation();
      if (pre.currency_code() != post.currency_code()) {
        BadInput("--post-money", "must be in the currency of --pre-money");
      }
      if (std::make_pair(post.units(), post.nanos()) < std::make_pair(pre.units(), pre.nanos())) {
        BadInput("--post-money", "must not be below --pre-money");
      }
    }
    if (auto d = OptionalDate("--expected-close", o->expected_close)) *r->mutable_expected_close() = *d;
    if (o->leads.size() > 50) BadInput("--lead", "at most 50 lead investors");
    for (const std::string& l : o->leads) {
      const std::string id = ParseId("--lead", l);
      for (const std::string& have : r->lead_investor_ids()) {
        if (have == id) BadInput("--lead", absl::StrCat("'", id, "' is given twice"));
      }
      r->add_lead_investor_ids(id);
    }
    v1::Event e = MakeEvent(o->env, spec);
    if (o->id.empty()) {
      std::string label_slug = label;
      std::replace(label_slug.begin(), label_slug.end(), '_', '-');
      r->set_round_id(DerivedDealId("--id", r->company_id(), label_slug, e));
    } else {
      r->set_round_id(ParseId("--id", o->id));
    }
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("deal/", e.payload().funding_round_reported().round_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddInvestment(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, round, investor, company, amount, amount_bound, instrument = "equity", stage,
        expected_close;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "deal/<id>";
  CLI::App* cmd = record.add_subcommand(
      "investment",
      "Report one investor's investment in a company (InvestmentReported).\n\n"
      "Example:\n"
      "  dealwire record investment --investor amazon --company openai --amount \"50B USD\" \\\n"
      "      --stage in-talks --effective 2026-01 --source https://example.com/a --confidence reported");
  cmd->add_option("--id", o->id,
                  "investment id (default: <investor>-<company>-<year of --effective>, e.g. "
                  "amazon-openai-2026; a second report of the same id is another claim about the "
                  "same investment)");
  cmd->add_option("--investor", o->investor, "who invests")->required();
  cmd->add_option("--company", o->company, "the company invested in")->required();
  cmd->add_option("--amount", o->amount, "how much, e.g. \"50B USD\", \"$8 billion\", \"up to €4M\"");
  cmd->add_option("--amount-bound", o->amount_bound, kBoundHelp);
  cmd->add_option("--instrument", o->instrument,
                  absl::StrCat("what the money buys: ", EnumChoices(v1::Instrument_descriptor())))
      ->capture_default_str();
  cmd->add_option("--stage", o->stage, absl::StrCat("stage: ", EnumChoices(v1::DealStage_descriptor())))
      ->required();
  cmd->add_option("--round", o->round, "the funding round it belongs to");
  cmd->add_option("--expected-close", o->expected_close, "expected closing period, e.g. 2026-Q1");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::InvestmentReported* r = p.mutable_investment_reported();
    r->set_investor_id(ParseId("--investor", o->investor));
    r->set_company_id(ParseId("--company", o->company));
    if (r->investor_id() == r->company_id()) BadInput("--investor", "must differ from --company");
    const Amount amount = ParseAmount("--amount", o->amount, "--amount-bound", o->amount_bound);
    if (amount.money) *r->mutable_amount() = *amount.money;
    r->set_amount_bound(amount.bound);
    r->set_instrument(ParseEnum<v1::Instrument>("--instrument", o->instrument));
    r->set_stage(ParseEnum<v1::DealStage>("--stage", o->stage));
    if (!o->round.empty()) r->set_round_id(ParseId("--round", o->round));
    if (auto d = OptionalDate("--expected-close", o->expected_close)) *r->mutable_expected_close() = *d;
    v1::Event e = MakeEvent(o->env, spec);
    r->set_investment_id(o->id.empty() ? DerivedDealId("--id", r->investor_id(), r->company_id(), e)
                                       : ParseId("--id", o->id));
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("deal/", e.payload().investment_reported().investment_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddAcquisition(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, acquirer, target, price, price_bound, stage, expected_close;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "deal/<id>";
  CLI::App* cmd = record.add_subcommand(
      "acquisition",
      "Report an acquisition of one organization by another (AcquisitionReported).\n\n"
      "Example:\n"
      "  dealwire record acquisition --acquirer nvidia --target run-ai --price \"700M USD\" \\\n"
      "      --stage announced --effective 2024-04-24 --source https://example.com/b \\\n"
      "      --confidence official");
  cmd->add_option("--id", o->id, "acquisition id (default: <acquirer>-<target>-<year of --effective>)");
  cmd->add_option("--acquirer", o->acquirer, "who buys")->required();
  cmd->add_option("--target", o->target, "who is bought")->required();
  cmd->add_option("--price", o->price, "the price, e.g. \"700M USD\"");
  cmd->add_option("--price-bound", o->price_bound, kBoundHelp);
  cmd->add_option("--stage", o->stage, absl::StrCat("stage: ", EnumChoices(v1::DealStage_descriptor())))
      ->required();
  cmd->add_option("--expected-close", o->expected_close, "expected closing period");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::AcquisitionReported* r = p.mutable_acquisition_reported();
    r->set_acquirer_id(ParseId("--acquirer", o->acquirer));
    r->set_target_id(ParseId("--target", o->target));
    if (r->acquirer_id() == r->target_id()) BadInput("--target", "must differ from --acquirer");
    const Amount price = ParseAmount("--price", o->price, "--price-bound", o->price_bound);
    if (price.money) *r->mutable_price() = *price.money;
    r->set_price_bound(price.bound);
    r->set_stage(ParseEnum<v1::DealStage>("--stage", o->stage));
    if (auto d = OptionalDate("--expected-close", o->expected_close)) *r->mutable_expected_close() = *d;
    v1::Event e = MakeEvent(o->env, spec);
    r->set_acquisition_id(o->id.empty() ? DerivedDealId("--id", r->acquirer_id(), r->target_id(), e)
                                        : ParseId("--id", o->id));
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("deal/", e.payload().acquisition_reported().acquisition_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddStage(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string deal, stage, amount, amount_bound, reason, expected_close;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "deal/<deal>";
  CLI::App* cmd = record.add_subcommand(
      "stage",
      "Move a deal (round, investment or acquisition) to another stage (DealStageChanged).\n"
      "Stages only move forward: rumored → in-talks → agreed → announced → closed; any open "
      "stage → collapsed.\n\n"
      "Example:\n"
      "  dealwire record stage --deal amazon-openai-2026 --stage agreed --amount \"50B USD\" \\\n"
      "      --reason \"definitive agreement signed\" --effective 2026-03-02 \\\n"
      "      --source https://example.com/c --confidence confirmed");
  cmd->add_option("--deal", o->deal, "the deal id")->required();
  cmd->add_option("--stage", o->stage, absl::StrCat("the new stage: ", EnumChoices(v1::DealStage_descriptor())))
      ->required();
  cmd->add_option("--amount", o->amount, "the deal's amount at this stage, when stated");
  cmd->add_option("--amount-bound", o->amount_bound, kBoundHelp);
  cmd->add_option("--reason", o->reason, "why the stage changed");
  cmd->add_option("--expected-close", o->expected_close, "a revised expected close");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::DealStageChanged* r = p.mutable_deal_stage_changed();
    r->set_deal_id(ParseId("--deal", o->deal));
    r->set_new_stage(ParseEnum<v1::DealStage>("--stage", o->stage));
    const Amount amount = ParseAmount("--amount", o->amount, "--amount-bound", o->amount_bound);
    if (amount.money) *r->mutable_amount() = *amount.money;
    r->set_amount_bound(amount.bound);
    r->set_reason(ParseText("--reason", o->reason, 4000, false));
    if (auto d = OptionalDate("--expected-close", o->expected_close)) *r->mutable_expected_close() = *d;
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("deal/", e.payload().deal_stage_changed().deal_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddValuation(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string company, valuation, valuation_bound, basis, round;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "org/<company>";
  CLI::App* cmd = record.add_subcommand(
      "valuation",
      "Report a valuation of a company (ValuationReported).\n\n"
      "Example:\n"
      "  dealwire record valuation --company openai --valuation \"as much as $830B\" \\\n"
      "      --basis estimate --round openai-2026-round --effective 2026-01 \\\n"
      "      --source https://example.com/d --confidence reported");
  cmd->add_option("--company", o->company, "the company valued")->required();
  cmd->add_option("--valuation", o->valuation, "the valuation, e.g. \"830B USD\"")->required();
  cmd->add_option("--valuation-bound", o->valuation_bound, kBoundHelp);
  cmd->add_option("--basis", o->basis, absl::StrCat("what it is based on: ", EnumChoices(v1::ValuationBasis_descriptor())))
      ->required();
  cmd->add_option("--round", o->round, "the funding round that set it");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::ValuationReported* r = p.mutable_valuation_reported();
    r->set_company_id(ParseId("--company", o->company));
    const Amount v = ParseAmount("--valuation", o->valuation, "--valuation-bound", o->valuation_bound);
    *r->mutable_valuation() = *v.money;
    r->set_valuation_bound(v.bound);
    r->set_basis(ParseEnum<v1::ValuationBasis>("--basis", o->basis));
    if (!o->round.empty()) r->set_round_id(ParseId("--round", o->round));
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("org/", e.payload().valuation_reported().company_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddStake(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string holder, company, ownership, qualifier;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "org/<company>";
  CLI::App* cmd = record.add_subcommand(
      "stake",
      "Disclose a holder's ownership of a company (StakeDisclosed). Give --ownership, "
      "--qualifier or both.\n\n"
      "Examples:\n"
      "  dealwire record stake --holder microsoft --company openai --qualifier substantial \\\n"
      "      --effective 2026-01 --source https://example.com/e --confidence reported\n"
      "  dealwire record stake --holder microsoft --company openai --ownership 27% \\\n"
      "      --effective 2025-10-28 --confidence official");
  cmd->add_option("--holder", o->holder, "who holds the stake")->required();
  cmd->add_option("--company", o->company, "the company held")->required();
  cmd->add_option("--ownership", o->ownership,
                  "27%, 27.5%, a range 20-30%, >10% or <5% (exact in parts per million)");
  cmd->add_option("--qualifier", o->qualifier, "the source's words: substantial, minority, …");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::StakeDisclosed* r = p.mutable_stake_disclosed();
    r->set_holder_id(ParseId("--holder", o->holder));
    r->set_company_id(ParseId("--company", o->company));
    if (r->holder_id() == r->company_id()) BadInput("--holder", "must differ from --company");
    if (o->ownership.empty() && o->qualifier.empty()) {
      BadInput("--ownership", "give --ownership (e.g. 27%), --qualifier (e.g. substantial) or both");
    }
    v1::OwnershipFraction f;
    if (!o->ownership.empty()) f = ParseOwnership("--ownership", o->ownership);
    f.set_qualifier(ParseText("--qualifier", o->qualifier, 200, false));
    *r->mutable_ownership() = std::move(f);
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("org/", e.payload().stake_disclosed().company_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddPartnership(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, value, value_bound, description;
    std::vector<std::string> parties;
    bool exclusive = false, primary = false;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "partnership/<id>";
  CLI::App* cmd = record.add_subcommand(
      "partnership",
      "Record a partnership between organizations (PartnershipFormed).\n\n"
      "Example:\n"
      "  dealwire record partnership --party aws:cloud-provider,training-provider \\\n"
      "      --party anthropic:customer --primary --effective 2023-09-25 \\\n"
      "      --source https://example.com/f --confidence official");
  cmd->add_option("--id", o->id, "partnership id (default: the parties' ids joined by '-', e.g. aws-anthropic)");
  Repeatable(cmd->add_option("--party", o->parties,
                             absl::StrCat("ORG:ROLE[,ROLE…] (repeatable, at least two organizations); "
                                          "roles: ", EnumChoices(v1::PartnershipRole_descriptor()))))
      ->required();
  cmd->add_flag("--exclusive", o->exclusive, "the parties committed not to work with competitors");
  cmd->add_flag("--primary", o->primary, "the providers are the partner's primary providers");
  cmd->add_option("--value", o->value, "stated value, e.g. \"4B USD\"");
  cmd->add_option("--value-bound", o->value_bound, kBoundHelp);
  cmd->add_option("--description", o->description, "what it covers");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::PartnershipFormed* r = p.mutable_partnership_formed();
    std::vector<std::string> orgs;
    for (const std::string& party : o->parties) {
      const size_t colon = party.find(':');
      if (colon == std::string::npos) {
        BadInput("--party", absl::StrCat("'", party, "' is not ORG:ROLE (e.g. aws:cloud-provider)"));
      }
      const std::string org = ParseId("--party", party.substr(0, colon));
      if (std::find(orgs.begin(), orgs.end(), org) == orgs.end()) orgs.push_back(org);
      for (absl::string_view role : absl::StrSplit(party.substr(colon + 1), ',')) {
        v1::PartnershipParty pp;
        pp.set_org_id(org);
        pp.set_role(ParseEnum<v1::PartnershipRole>("--party", role));
        for (const v1::PartnershipParty& have : r->parties()) {
          if (have.org_id() == org && have.role() == pp.role()) {
            BadInput("--party", absl::StrCat("'", org, ":", role, "' is given twice"));
          }
        }
        *r->add_parties() = std::move(pp);
      }
    }
    if (orgs.size() < 2) BadInput("--party", "a partnership needs at least two organizations");
    if (r->parties_size() > 20) BadInput("--party", "at most 20 (organization, role) pairs");
    r->set_exclusive(o->exclusive);
    r->set_primary(o->primary);
    const Amount value = ParseAmount("--value", o->value, "--value-bound", o->value_bound);
    if (value.money) *r->mutable_value() = *value.money;
    r->set_value_bound(value.bound);
    r->set_description(ParseText("--description", o->description, 4000, false));
    if (o->id.empty()) {
      const std::string id = absl::StrJoin(orgs, "-");
      if (id.size() > 100) BadInput("--id", "the derived id is too long; give --id");
      r->set_partnership_id(id);
    } else {
      r->set_partnership_id(ParseId("--id", o->id));
    }
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("partnership/", e.payload().partnership_formed().partnership_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddPartnershipEnd(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, reason;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "partnership/<id>";
  CLI::App* cmd = record.add_subcommand(
      "partnership-end",
      "Record that a partnership ended (PartnershipEnded).\n\n"
      "Example:\n"
      "  dealwire record partnership-end --id aws-anthropic --reason \"contract not renewed\" \\\n"
      "      --effective 2027-01 --source https://example.com/g --confidence confirmed");
  cmd->add_option("--id", o->id, "the partnership that ends")->required();
  cmd->add_option("--reason", o->reason, "why it ended");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::PartnershipEnded* r = p.mutable_partnership_ended();
    r->set_partnership_id(ParseId("--id", o->id));
    r->set_reason(ParseText("--reason", o->reason, 4000, false));
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("partnership/", e.payload().partnership_ended().partnership_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddFacility(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string id, owner, beneficiary, location, amount, amount_bound, purpose, expected_completion;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.stream_help = "facility/<id>";
  CLI::App* cmd = record.add_subcommand(
      "facility",
      "Announce a facility: data center, campus, fab (FacilityAnnounced).\n\n"
      "Example:\n"
      "  dealwire record facility --id aws-indiana-campus --owner aws --beneficiary anthropic \\\n"
      "      --location \"New Carlisle, Indiana, US\" --amount \"$11B\" \\\n"
      "      --purpose \"run Anthropic models\" --effective 2024-04 \\\n"
      "      --source https://example.com/h --confidence official");
  cmd->add_option("--id", o->id, "facility id, e.g. aws-indiana-campus")->required();
  cmd->add_option("--owner", o->owner, "who builds and owns it")->required();
  cmd->add_option("--beneficiary", o->beneficiary, "who it is built for");
  cmd->add_option("--location", o->location, "where it is, free text")->required();
  cmd->add_option("--amount", o->amount, "the investment in it, e.g. \"$11B\"");
  cmd->add_option("--amount-bound", o->amount_bound, kBoundHelp);
  cmd->add_option("--purpose", o->purpose, "what it is for");
  cmd->add_option("--expected-completion", o->expected_completion, "expected completion, e.g. 2027");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::FacilityAnnounced* r = p.mutable_facility_announced();
    r->set_facility_id(ParseId("--id", o->id));
    r->set_owner_id(ParseId("--owner", o->owner));
    if (!o->beneficiary.empty()) r->set_beneficiary_id(ParseId("--beneficiary", o->beneficiary));
    r->set_location(ParseText("--location", o->location, 200));
    const Amount amount = ParseAmount("--amount", o->amount, "--amount-bound", o->amount_bound);
    if (amount.money) *r->mutable_amount() = *amount.money;
    r->set_amount_bound(amount.bound);
    r->set_purpose(ParseText("--purpose", o->purpose, 4000, false));
    if (auto d = OptionalDate("--expected-completion", o->expected_completion)) {
      *r->mutable_expected_completion() = *d;
    }
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("facility/", e.payload().facility_announced().facility_id());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddFx(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string base, quote, rate;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.effective_help = "the date of the rate: 2026-01-28 (or 2026-01, 2026-Q1, 2026) (required)";
  spec.stream_help = "fx/<BASE>-<QUOTE>";
  CLI::App* cmd = record.add_subcommand(
      "fx",
      "Record an exchange rate: 1 BASE = RATE QUOTE (FxRateReported).\n\n"
      "Example:\n"
      "  dealwire record fx --base EUR --quote USD --rate 1.0842 --effective 2026-01-28 \\\n"
      "      --source https://www.ecb.europa.eu/stats/ --publisher ECB --confidence official");
  cmd->add_option("--base", o->base, "currency converted from, e.g. EUR")->required();
  cmd->add_option("--quote", o->quote, "currency converted to, e.g. USD")->required();
  cmd->add_option("--rate", o->rate, "price of 1 BASE in QUOTE, up to 9 decimals, e.g. 1.0842")->required();
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::FxRateReported* r = p.mutable_fx_rate_reported();
    r->set_base_currency(ParseCurrency("--base", o->base));
    r->set_quote_currency(ParseCurrency("--quote", o->quote));
    if (r->base_currency() == r->quote_currency()) BadInput("--quote", "must differ from --base");
    *r->mutable_rate() = ParseRate("--rate", o->rate, r->quote_currency());
    v1::Event e = MakeEvent(o->env, spec);
    *e.mutable_payload() = std::move(p);
    const std::string stream = absl::StrCat("fx/", e.payload().fx_rate_reported().base_currency(), "-",
                                            e.payload().fx_rate_reported().quote_currency());
    Submit(ctx, o->env, std::move(e), stream);
  });
}

// Finds the event `event_id`: in `stream` when given, else anywhere in the
// log (newest first). Throws CommandError (exit 1) when there is none.
v1::Event FindEvent(Context& ctx, const std::string& event_id, const std::string& stream) {
  LogRead read;
  read.stream = stream;
  read.direction = v1::DIRECTION_BACKWARDS;
  std::string token;
  do {
    google::protobuf::RepeatedPtrField<v1::Event> events;
    token = ReadEvents(ctx, read, token, &events);
    for (v1::Event& e : events) {
      if (e.event_id() == event_id) return std::move(e);
    }
  } while (!token.empty());
  throw CommandError{kExitRefused,
                     stream.empty() ? absl::StrCat("NOT_FOUND: no event ", event_id, " in the log")
                                    : absl::StrCat("NOT_FOUND: no event ", event_id, " in stream ",
                                                   stream)};
}

v1::EffectiveDate Today() {
  const absl::CivilDay day = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  v1::EffectiveDate d;
  d.mutable_date()->set_year(static_cast<int>(day.year()));
  d.mutable_date()->set_month(day.month());
  d.mutable_date()->set_day(day.day());
  d.set_precision(v1::DATE_PRECISION_DAY);
  return d;
}

void AddRetract(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string target, reason;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.effective_help = "when the claim was withdrawn (default: today, UTC)";
  spec.stream_help = "the retracted event's stream, looked up in the log";
  spec.confidence_default = "official";
  CLI::App* cmd = record.add_subcommand(
      "retract",
      "Withdraw an earlier event (EventRetracted): projections then behave as if it had never "
      "been recorded; it stays in the log.\n\n"
      "Example:\n"
      "  dealwire record retract 0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a \\\n"
      "      --reason \"report denied by both parties\"");
  cmd->add_option("EVENT_ID", o->target, "the event to withdraw")->required();
  cmd->add_option("--reason", o->reason, "why it is withdrawn");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::EventRetracted* r = p.mutable_event_retracted();
    r->set_event_id(ParseEventId("EVENT_ID", o->target));
    r->set_reason(ParseText("--reason", o->reason, 4000, false));
    v1::Event e = MakeEvent(o->env, spec, Today());
    if (e.event_id() == r->event_id()) BadInput("--event-id", "must differ from EVENT_ID");
    *e.mutable_payload() = std::move(p);
    std::string stream;
    if (o->env.stream.empty()) stream = FindEvent(ctx, e.payload().event_retracted().event_id(), "").stream();
    Submit(ctx, o->env, std::move(e), stream);
  });
}

void AddCorrect(CLI::App& record, Context& ctx) {
  struct Opts {
    Envelope env;
    std::string target, replacement, reason;
  };
  auto o = std::make_shared<Opts>();
  EnvelopeSpec spec;
  spec.effective_help = "the corrected effective date (default: the original's)";
  spec.stream_help = "the corrected event's stream";
  CLI::App* cmd = record.add_subcommand(
      "correct",
      "Replace an earlier event's payload (EventCorrected). The replacement is the payload in "
      "protobuf JSON, of the same type as the original. --effective, --confidence and the sources "
      "default to the original's, since the correction's own replace them.\n\n"
      "Example:\n"
      "  dealwire record correct 0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a \\\n"
      "      --replacement-json '{\"investmentReported\": {\"investmentId\": \"amazon-openai-2026\", "
      "\"investorId\": \"amazon\", \"companyId\": \"openai\", \"amount\": {\"currencyCode\": "
      "\"USD\", \"units\": \"40000000000\"}, \"instrument\": \"INSTRUMENT_EQUITY\", \"stage\": "
      "\"DEAL_STAGE_IN_TALKS\"}}' \\\n"
      "      --reason \"amount was 40B, not 50B\"");
  cmd->add_option("EVENT_ID", o->target, "the original event (never a correction)")->required();
  cmd->add_option("--replacement-json", o->replacement,
                  "the corrected payload as protobuf JSON, e.g. {\"investmentReported\": {...}}; "
                  "@FILE reads it from a file")
      ->required();
  cmd->add_option("--reason", o->reason, "what was wrong");
  AddEnvelopeFlags(cmd, &o->env, spec);
  cmd->callback([&ctx, o, spec] {
    v1::EventPayload p;
    v1::EventCorrected* r = p.mutable_event_corrected();
    r->set_event_id(ParseEventId("EVENT_ID", o->target));
    r->set_reason(ParseText("--reason", o->reason, 4000, false));
    std::string json = o->replacement;
    if (absl::StartsWith(json, "@")) {
      std::ifstream in(json.substr(1), std::ios::binary);
      if (!in) BadInput("--replacement-json", absl::StrCat("cannot read ", json.substr(1)));
      std::stringstream buffer;
      buffer << in.rdbuf();
      json = buffer.str();
    }
    const auto status = google::protobuf::util::JsonStringToMessage(json, r->mutable_replacement());
    if (!status.ok()) BadInput("--replacement-json", status.message().ToString());
    const std::string type = common::EventTypeName(r->replacement());
    if (type.empty()) BadInput("--replacement-json", "holds no payload (e.g. {\"investmentReported\": {...}})");
    if (r->replacement().has_event_retracted() || r->replacement().has_event_corrected()) {
      BadInput("--replacement-json", "a retraction or correction cannot be a replacement");
    }
    if (!o->env.event_id.empty() && ParseEventId("--event-id", o->env.event_id) == r->event_id()) {
      BadInput("--event-id", "must differ from EVENT_ID");
    }
    // Everything given is checked; now read the original (a read, never a write).
    const v1::Event original = FindEvent(ctx, r->event_id(), o->env.stream);
    if (common::EventTypeName(original.payload()) != type) {
      BadInput("--replacement-json", absl::StrCat("is a ", type, " but event ", r->event_id(),
                                                  " is a ", common::EventTypeName(original.payload())));
    }
    EnvelopeSpec with_defaults = spec;
    with_defaults.confidence_default = FormatConfidence(original.confidence());
    v1::Event e = MakeEvent(o->env, with_defaults, original.effective());
    if (o->env.sources.empty() && o->env.publishers.empty()) *e.mutable_sources() = original.sources();
    *e.mutable_payload() = std::move(p);
    Submit(ctx, o->env, std::move(e), original.stream());
  });
}

}  // namespace

void AddRecordCommands(CLI::App& app, Context& ctx) {
  CLI::App* record = app.add_subcommand(
      "record",
      "Record a claim from flags: one command per event type. Bad input is refused before "
      "anything is sent (exit 2); the event id is printed so a retry can reuse it "
      "(--event-id). See docs/cli-record.md.\n\n"
      "Example:\n"
      "  dealwire record investment --investor amazon --company openai --amount \"50B USD\" \\\n"
      "      --stage in-talks --effective 2026-01 --source https://example.com/a --confidence "
      "reported");
  record->require_subcommand(1);
  AddOrg(*record, ctx);
  AddOrgUpdate(*record, ctx);
  AddRound(*record, ctx);
  AddInvestment(*record, ctx);
  AddAcquisition(*record, ctx);
  AddStage(*record, ctx);
  AddValuation(*record, ctx);
  AddStake(*record, ctx);
  AddPartnership(*record, ctx);
  AddPartnershipEnd(*record, ctx);
  AddFacility(*record, ctx);
  AddFx(*record, ctx);
  AddRetract(*record, ctx);
  AddCorrect(*record, ctx);
}

}  // namespace dealwire::cli
