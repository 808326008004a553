// clients/cli/event_commands.cc — the EventStore commands of `dealwire`:
//
//   dealwire events read [--stream S] [--from N] [--backwards] [--limit N]
//   dealwire events append --stream S [--expected-version V] FILE|- | --json '{...}'
//   dealwire tail [--from N|--from-start|--from-end] [--name SUB] [--type T]... [--org O]...
//   dealwire import FILE.jsonl|- [--batch N]
//   dealwire subscriptions list | delete NAME
//
// JSON Lines input (append, import): one dealwire.v1.Event per line in
// protobuf's canonical JSON; blank lines and lines starting with '#' are
// skipped, "\r\n" endings and a UTF-8 byte order mark are accepted, unknown
// fields are errors. User documentation: docs/cli-events.md.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cli/parse.h"
#include "common/event_jsonl.h"
#include "common/event_types.h"
#include "fmt/format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dealwire::cli {
namespace {

// An append's serialized size stays below this, well under gRPC's default
// 4 MiB message limit.
constexpr size_t kMaxAppendBytes = 2 << 20;

// ---------------------------------------------------------------------------
// Formatting of events
// ---------------------------------------------------------------------------

// The event's type: its payload case as the message name ("InvestmentReported"),
// or "-" when it has none.
std::string EventType(const v1::Event& e) {
  const std::string type = common::EventTypeName(e.payload());
  return type.empty() ? "-" : type;
}

// Appends " <money>" when `m` is set.
void AddMoney(std::string* out, bool has, const v1::Money& m) {
  if (has) absl::StrAppend(out, " ", FormatMoney(m));
}

// A one-line summary of what the event claims, naming its organizations.
std::string Summary(const v1::Event& e) {
  const v1::EventPayload& p = e.payload();
  std::string s;
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered: {
      const auto& x = p.organization_registered();
      s = absl::StrCat(x.org_id(), " \"", x.name(), "\" ", EnumLabel(x.kind()));
      if (!x.parent_org_id().empty()) absl::StrAppend(&s, " (parent ", x.parent_org_id(), ")");
      break;
    }
    case v1::EventPayload::kOrganizationUpdated:
      s = p.organization_updated().org_id();
      break;
    case v1::EventPayload::kFundingRoundReported: {
      const auto& x = p.funding_round_reported();
      s = absl::StrCat(x.company_id(), " ", x.label().empty() ? "round" : x.label(), " [",
                       x.round_id(), "]");
      AddMoney(&s, x.has_target_amount(), x.target_amount());
      if (x.stage() != v1::DEAL_STAGE_UNSPECIFIED) absl::StrAppend(&s, " ", EnumLabel(x.stage()));
      break;
    }
    case v1::EventPayload::kInvestmentReported: {
      const auto& x = p.investment_reported();
      s = absl::StrCat(x.investor_id(), " → ", x.company_id());
      AddMoney(&s, x.has_amount(), x.amount());
      absl::StrAppend(&s, " ", EnumLabel(x.stage()), " [", x.investment_id(), "]");
      break;
    }
    case v1::EventPayload::kDealStageChanged: {
      const auto& x = p.deal_stage_changed();
      s = absl::StrCat(x.deal_id(), " → ", EnumLabel(x.new_stage()));
      AddMoney(&s, x.has_amount(), x.amount());
      break;
    }
    case v1::EventPayload::kValuationReported: {
      const auto& x = p.valuation_reported();
      s = absl::StrCat(x.company_id(), " valued");
      AddMoney(&s, x.has_valuation(), x.valuation());
      absl::StrAppend(&s, " (", EnumLabel(x.basis()), ")");
      break;
    }
    case v1::EventPayload::kStakeDisclosed: {
      const auto& x = p.stake_disclosed();
      if (x.ownership().value_case() == v1::OwnershipFraction::VALUE_NOT_SET) {
        s = absl::StrCat(x.holder_id(), " holds a stake (size unknown) in ", x.company_id());
      } else {
        s = absl::StrCat(x.holder_id(), " holds ", FormatOwnership(x.ownership()), " of ",
                         x.company_id());
      }
      break;
    }
    case v1::EventPayload::kAcquisitionReported: {
      const auto& x = p.acquisition_reported();
      s = absl::StrCat(x.acquirer_id(), " acquires ", x.target_id());
      AddMoney(&s, x.has_price(), x.price());
      absl::StrAppend(&s, " ", EnumLabel(x.stage()), " [", x.acquisition_id(), "]");
      break;
    }
    case v1::EventPayload::kPartnershipFormed: {
      const auto& x = p.partnership_formed();
      std::vector<std::string> parties;
      for (const auto& party : x.parties()) {
        parties.push_back(absl::StrCat(party.org_id(), " (", EnumLabel(party.role()), ")"));
      }
      s = absl::StrCat(x.partnership_id(), ": ", absl::StrJoin(parties, ", "));
      if (x.primary()) absl::StrAppend(&s, " primary");
      if (x.exclusive()) absl::StrAppend(&s, " exclusive");
      AddMoney(&s, x.has_value(), x.value());
      break;
    }
    case v1::EventPayload::kPartnershipEnded:
      s = p.partnership_ended().partnership_id();
      break;
    case v1::EventPayload::kFacilityAnnounced: {
      const auto& x = p.facility_announced();
      s = absl::StrCat(x.owner_id(), " ", x.facility_id());
      if (!x.beneficiary_id().empty()) absl::StrAppend(&s, " for ", x.beneficiary_id());
      if (!x.location().empty()) absl::StrAppend(&s, ", ", x.location());
      AddMoney(&s, x.has_amount(), x.amount());
      break;
    }
    case v1::EventPayload::kFxRateReported: {
      const auto& x = p.fx_rate_reported();
      s = absl::StrCat(x.base_currency(), "/", x.quote_currency(), " ",
                       FormatMoneyExact(x.rate()));
      break;
    }
    case v1::EventPayload::kEventRetracted:
      s = absl::StrCat("retracts ", p.event_retracted().event_id());
      break;
    case v1::EventPayload::kEventCorrected:
      s = absl::StrCat("corrects ", p.event_corrected().event_id());
      break;
    case v1::EventPayload::PAYLOAD_NOT_SET:
      s = "-";
      break;
  }
  return s;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatRecorded(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", ToTime(t), absl::UTCTimeZone());
}

std::string StreamAt(const v1::Event& e) {
  return absl::StrCat(e.stream(), "@", e.stream_version());
}

// ---------------------------------------------------------------------------
// JSON Lines input
// ---------------------------------------------------------------------------

// Parses one line (without its '\n') as an event. Returns nullopt and sets
// `*is_event` when it parsed (false for blanks and comments); otherwise
// returns the reason it is not an event. `first` strips a byte order mark.
std::optional<std::string> ParseEventLine(absl::string_view line, bool first, v1::Event* out,
                                          bool* is_event) {
  *is_event = false;
  const absl::string_view text = common::EventLineText(line, first);
  if (text.empty()) return std::nullopt;
  if (absl::Status s = common::ParseEventJson(text, out); !s.ok()) {
    return std::string(s.message());
  }
  *is_event = true;
  return std::nullopt;
}

// Lines of a file or of stdin, read with getline(3) (no length limit).
class LineReader {
 public:
  // Opens `path` ("-" is stdin). Throws CommandError (exit 2) when it cannot.
  explicit LineReader(const std::string& path) {
    if (path == "-") {
      file_ = stdin;
      name_ = "stdin";
      return;
    }
    name_ = path;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      throw CommandError{kExitBadInput, absl::StrCat(path, ": ", std::strerror(errno))};
    }
    if (S_ISDIR(st.st_mode)) {
      throw CommandError{kExitBadInput, absl::StrCat(path, ": is a directory, not a file")};
    }
    regular_ = S_ISREG(st.st_mode);
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      throw CommandError{kExitBadInput, absl::StrCat(path, ": ", std::strerror(errno))};
    }
  }
  ~LineReader() {
    if (file_ != nullptr && file_ != stdin) std::fclose(file_);
    std::free(buffer_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n'; false at the end. Throws on a read error.
  bool Next(absl::string_view* line) {
    const ssize_t n = getline(&buffer_, &capacity_, file_);
    if (n < 0) {
      if (std::ferror(file_)) {
        throw CommandError{kExitBadInput, absl::StrCat(name_, ":", line_ + 1,
                                                       ": read failed: ", std::strerror(errno))};
      }
      return false;
    }
    ++line_;
    *line = absl::string_view(buffer_, static_cast<size_t>(n));
    if (!line->empty() && line->back() == '\n') line->remove_suffix(1);
    return true;
  }

  // Counts the event lines (neither blank nor comments) of a regular file
  // and rewinds it; nullopt for stdin and pipes.
  std::optional<int64_t> CountEvents() {
    if (!regular_) return std::nullopt;
    int64_t count = 0;
    absl::string_view line;
    while (Next(&line)) {
      if (!common::EventLineText(line, line_ == 1).empty()) ++count;
    }
    std::rewind(file_);
    line_ = 0;
    return count;
  }

  const std::string& name() const { return name_; }
  int line() const { return line_; }

 private:
  FILE* file_ = nullptr;
  std::string name_;
  bool regular_ = false;
  char* buffer_ = nullptr;
  size_t capacity_ = 0;
  int line_ = 0;
};

// The PascalCase event type for what a user typed: "InvestmentReported",
// "investment_reported", "investment-reported" (any case).
std::string NormalizeEventType(absl::string_view text) {
  auto squash = [](absl::string_view s) {
    std::string out;
    for (char c : s) {
      if (c != '_' && c != '-') out.push_back(absl::ascii_tolower(c));
    }
    return out;
  };
  const std::string want = squash(text);
  for (const std::string& name : common::EventTypeNames()) {
    if (squash(name) == want) return name;
  }
  BadInput("--type", absl::StrCat("unknown event type '", text,
                                  "'; one of: ", absl::StrJoin(common::EventTypeNames(), ", ")));
}

// Runs `fn` and, when it throws CommandError, prefixes its message with
// `prefix` and appends `suffix`.
template <typename Fn>
void WithContext(const std::string& prefix, const std::string& suffix, Fn fn) {
  try {
    fn();
  } catch (CommandError& e) {
    e.message = absl::StrCat(prefix, e.message, suffix);
    throw;
  }
}

// The filter flags of `events read` and `tail`, as typed.
struct FilterFlags {
  std::vector<std::string> types;
  std::vector<std::string> orgs;
  std::vector<std::string> prefixes;

  bool empty() const { return types.empty() && orgs.empty() && prefixes.empty(); }
};

// Adds --type, --org and --prefix to `cmd`, bound to `f`.
void AddFilterFlags(CLI::App* cmd, FilterFlags* f) {
  cmd->add_option("--type", f->types, "only this event type, e.g. InvestmentReported (repeatable)");
  cmd->add_option("--org", f->orgs, "only events naming this organization id (repeatable)");
  cmd->add_option("--prefix", f->prefixes,
                  "only streams starting with this, e.g. deal/ (repeatable)");
}

// The filter the flags ask for; refuses an unknown --type.
v1::SubscriptionFilter ToFilter(const FilterFlags& f) {
  v1::SubscriptionFilter filter;
  for (const std::string& t : f.types) filter.add_event_types(NormalizeEventType(t));
  for (const std::string& org : f.orgs) filter.add_org_ids(org);
  for (const std::string& p : f.prefixes) filter.add_stream_prefixes(p);
  return filter;
}

// ---------------------------------------------------------------------------
// events read
// ---------------------------------------------------------------------------

struct ReadOptions {
  std::string stream;
  int64_t from = -1;  // -1: not given
  bool backwards = false;
  int64_t limit = 100;
  FilterFlags filter;
};

void RunRead(Context& ctx, const ReadOptions& o) {
  if (!o.stream.empty() && !o.filter.empty()) {
    BadInput("--stream", "--type, --org and --prefix filter the whole log; not with --stream");
  }
  const int64_t limit = o.limit == 0 ? INT64_MAX : o.limit;
  LogRead read;
  read.stream = o.stream;
  read.direction = o.backwards ? v1::DIRECTION_BACKWARDS : v1::DIRECTION_FORWARDS;
  if (o.from >= 0) read.from = static_cast<uint64_t>(o.from);
  read.page_size = static_cast<int32_t>(std::min<int64_t>(limit, 1000));
  read.filter = ToFilter(o.filter);

  Table table({">POSITION", "STREAM@VERSION", "RECORDED", "TYPE", "SUMMARY"});
  int64_t shown = 0;
  bool more = false;
  auto show = [&](const v1::Event& e) {
    ++shown;
    if (ctx.json()) {
      ctx.PrintJson(e);
    } else {
      table.Row({std::to_string(e.position()), StreamAt(e), FormatRecorded(e.recorded_time()),
                 EventType(e), Summary(e)});
    }
  };

  std::string token;
  do {
    google::protobuf::RepeatedPtrField<v1::Event> events;
    token = ReadEvents(ctx, read, token, &events);
    for (const v1::Event& e : events) {
      if (shown == limit) {
        more = true;
        break;
      }
      show(e);
    }
    if (shown == limit && !token.empty()) more = true;
  } while (!token.empty() && !more);

  if (!ctx.json()) Print(table.Render(ctx));
  if (more && !ctx.json()) {
    std::fprintf(stderr, "(stopped at --limit %lld; more events follow: raise --limit or use --from)\n",
                 static_cast<long long>(o.limit));
  }
}

// ---------------------------------------------------------------------------
// events append
// ---------------------------------------------------------------------------

struct AppendOptions {
  std::string stream;
  std::string expected = "any";
  std::string file;
  std::string json;
};

// Checks an event read for `append` and fills in what the CLI may: the
// stream must be absent or --stream; a missing event id gets a random UUID.
void PrepareForAppend(const std::string& where, const std::string& stream, v1::Event* e) {
  if (!e->stream().empty() && e->stream() != stream) {
    throw CommandError{kExitBadInput, absl::StrCat(where, ": stream '", e->stream(),
                                                   "' differs from --stream '", stream,
                                                   "' (use import for several streams)")};
  }
  if (e->event_id().empty()) e->set_event_id(NewEventId());
}

void RunAppend(Context& ctx, const AppendOptions& o) {
  if (o.file.empty() == o.json.empty()) {
    BadInput("FILE", "give a JSON Lines file (or - for stdin) or --json, not both");
  }
  v1::AppendRequest req;
  req.set_stream(o.stream);
  *req.mutable_expected_version() = ParseExpectedVersion("--expected-version", o.expected);
  if (!o.json.empty()) {
    v1::Event e;
    bool is_event = false;
    if (auto err = ParseEventLine(o.json, true, &e, &is_event)) BadInput("--json", *err);
    if (!is_event) BadInput("--json", "no event (blank or a comment)");
    PrepareForAppend("--json", o.stream, &e);
    *req.add_events() = std::move(e);
  } else {
    LineReader reader(o.file);
    absl::string_view line;
    while (reader.Next(&line)) {
      v1::Event e;
      bool is_event = false;
      const std::string where = absl::StrCat(reader.name(), ":", reader.line());
      if (auto err = ParseEventLine(line, reader.line() == 1, &e, &is_event)) {
        throw CommandError{kExitBadInput, absl::StrCat(where, ": ", *err, " (nothing was sent)")};
      }
      if (!is_event) continue;
      PrepareForAppend(where, o.stream, &e);
      *req.add_events() = std::move(e);
    }
    if (req.events().empty()) BadInput(reader.name(), "no events in the input");
  }
  v1::AppendResponse resp;
  ctx.Check(ctx.events().Append(ctx.Call().get(), req, &resp));
  if (ctx.json()) return ctx.PrintJson(resp);
  const int n = req.events_size();
  const std::string positions =
      resp.first_position() == resp.last_position()
          ? absl::StrCat("position ", resp.first_position())
          : absl::StrCat("positions ", resp.first_position(), "..", resp.last_position());
  Print(absl::StrCat(resp.duplicate() ? ctx.Paint("already stored", "33")
                                      : ctx.Paint("appended", "32"),
                     " ", n, n == 1 ? " event" : " events", " to ", o.stream, " at ", positions,
                     " (stream version ", resp.first_stream_version(), "..",
                     resp.next_expected_version(), ")\n"));
}

// ---------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------

struct ImportOptions {
  std::string file;
  int batch = 100;
};

// Progress of an import on stderr: a bar on a terminal, otherwise a plain
// line at most once a second.
class Progress {
 public:
  Progress(std::optional<int64_t> total, bool tty)
      : total_(total), tty_(tty), start_(absl::Now()), last_(start_) {}

  void Update(int64_t done) {
    const absl::Time now = absl::Now();
    const absl::Duration every = tty_ ? absl::Milliseconds(100) : absl::Seconds(1);
    if (now - last_ < every) return;
    last_ = now;
    const double secs = absl::ToDoubleSeconds(now - start_);
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    std::string text;
    if (tty_) {
      if (total_ && *total_ > 0) {
        const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(*total_));
        const int width = 30, filled = static_cast<int>(frac * width);
        std::string eta = "--";
        if (rate > 0) {
          const int64_t left = static_cast<int64_t>(static_cast<double>(*total_ - done) / rate);
          eta = fmt::format("{}:{:02d}", left / 60, left % 60);
        }
        text = fmt::format("\r[{}{}] {}/{} events  {:.0f} events/s  ETA {}\x1b[K",
                           std::string(filled, '#'), std::string(width - filled, '.'), done,
                           *total_, rate, eta);
      } else {
        text = fmt::format("\r{} events  {:.0f} events/s\x1b[K", done, rate);
      }
      shown_ = true;
    } else {
      text = total_ ? fmt::format("imported {}/{} events, {:.0f} events/s\n", done, *total_, rate)
                    : fmt::format("imported {} events, {:.0f} events/s\n", done, rate);
    }
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
  }

  // Clears the bar so that what follows starts on a clean line.
  void Done() {
    if (tty_ && shown_) {
      std::fputs("\r\x1b[K", stderr);
      std::fflush(stderr);
    }
  }

  double Seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  std::optional<int64_t> total_;
  bool tty_;
  bool shown_ = false;
  absl::Time start_;
  absl::Time last_;
};

struct ImportState {
  int64_t events = 0;      // events sent and acknowledged
  int64_t appended = 0;    // of which newly written
  int64_t duplicates = 0;  // of which already stored
  int64_t appends = 0;     // Append calls
  uint64_t last_position = 0;
};

// One batch: events of one stream, consecutive in the file, with their lines.
struct Batch {
  v1::AppendRequest request;
  std::vector<int> lines;
  size_t bytes = 0;
};

std::string ImportedSoFar(const ImportState& st) {
  return absl::StrCat(st.events, st.events == 1 ? " event before it is" : " events before it are",
                      " stored (", st.appended, " new, ", st.duplicates, " already present)");
}

// Sends one Append, retrying UNAVAILABLE a few times (safe: appends are
// idempotent by event id). Returns the final status.
grpc::Status AppendWithRetry(Context& ctx, const v1::AppendRequest& req, v1::AppendResponse* resp) {
  grpc::Status status;
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 5; ++attempt) {
    status = ctx.events().Append(ctx.Call().get(), req, resp);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
    absl::SleepFor(backoff);
    backoff *= 2;
  }
  return status;
}

// Throws the CommandError for a refused batch, located at the event the
// server names ("events[3]...") or else at the batch's first line.
[[noreturn]] void ThrowRefused(Context& ctx, const std::string& source, const Batch& b,
                               size_t first_index, const grpc::Status& status,
                               const ImportState& st) {
  size_t index = first_index;
  const std::string& msg = status.error_message();
  if (const size_t at = msg.find("events["); at != std::string::npos) {
    size_t i = 0;
    const size_t end = msg.find(']', at);
    if (end != std::string::npos &&
        absl::SimpleAtoi(absl::string_view(msg).substr(at + 7, end - at - 7), &i) &&
        first_index + i < b.lines.size()) {
      index = first_index + i;
    }
  }
  const std::string range =
      b.lines.size() == 1 ? absl::StrCat("line ", b.lines.front())
                          : absl::StrCat("lines ", b.lines.front(), "-", b.lines.back());
  WithContext(absl::StrCat(source, ":", b.lines[index], ": "),
              absl::StrCat("; the batch of ", range, " (", b.request.stream(),
                           ") was not appended; ", ImportedSoFar(st)),
              [&] { ctx.Check(status); });
  throw CommandError{kExitRefused, "unreachable"};
}

void Count(ImportState* st, const v1::AppendResponse& resp, int64_t n) {
  st->events += n;
  ++st->appends;
  (resp.duplicate() ? st->duplicates : st->appended) += n;
  st->last_position = std::max(st->last_position, resp.last_position());
}

void SendBatch(Context& ctx, const std::string& source, Batch& b, ImportState* st) {
  v1::AppendResponse resp;
  grpc::Status status = AppendWithRetry(ctx, b.request, &resp);
  if (status.ok()) return Count(st, resp, b.request.events_size());
  if (status.error_code() != grpc::StatusCode::ALREADY_EXISTS || b.request.events_size() == 1) {
    ThrowRefused(ctx, source, b, 0, status, *st);
  }
  // Some of the events are stored and some are not (an earlier import with
  // another --batch, or one that stopped midway): send them one by one, so
  // that the stored ones count as duplicates and the others are appended.
  for (int i = 0; i < b.request.events_size(); ++i) {
    v1::AppendRequest one;
    one.set_stream(b.request.stream());
    *one.add_events() = b.request.events(i);
    status = AppendWithRetry(ctx, one, &resp);
    if (!status.ok()) {
      Batch single;
      single.request = one;
      single.lines = {b.lines[i]};
      ThrowRefused(ctx, source, single, 0, status, *st);
    }
    Count(st, resp, 1);
  }
}

void RunImport(Context& ctx, const ImportOptions& o) {
  LineReader reader(o.file);
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::optional<int64_t> total = reader.CountEvents();
  Progress progress(total, tty);
  ImportState st;
  Batch batch;

  auto flush = [&] {
    if (batch.request.events().empty()) return;
    SendBatch(ctx, reader.name(), batch, &st);
    batch = Batch();
    progress.Update(st.events);
  };

  try {
    absl::string_view line;
    v1::Event e;
    while (reader.Next(&line)) {
      bool is_event = false;
      std::optional<std::string> err = ParseEventLine(line, reader.line() == 1, &e, &is_event);
      if (!err && is_event && e.stream().empty()) err = "stream: missing";
      if (err) {
        throw CommandError{kExitBadInput,
                           absl::StrCat(reader.name(), ":", reader.line(), ": ", *err,
                                        "; its batch was not sent; ", ImportedSoFar(st))};
      }
      if (!is_event) continue;
      const size_t size = e.ByteSizeLong();
      if (!batch.request.events().empty() &&
          (batch.request.stream() != e.stream() || batch.bytes + size > kMaxAppendBytes)) {
        flush();
      }
      if (batch.request.events().empty()) batch.request.set_stream(e.stream());
      batch.lines.push_back(reader.line());
      batch.bytes += size;
      *batch.request.add_events() = std::move(e);
      if (batch.request.events_size() >= o.batch) flush();
    }
    flush();
  } catch (...) {
    progress.Done();
    throw;
  }
  progress.Done();

  if (ctx.json()) {
    google::protobuf::Struct summary;
    auto& f = *summary.mutable_fields();
    f["events"].set_number_value(static_cast<double>(st.events));
    f["appended"].set_number_value(static_cast<double>(st.appended));
    f["duplicates"].set_number_value(static_cast<double>(st.duplicates));
    f["lastPosition"].set_number_value(static_cast<double>(st.last_position));
    f["appends"].set_number_value(static_cast<double>(st.appends));
    return ctx.PrintJson(summary);
  }
  const double secs = progress.Seconds();
  Print(fmt::format("imported {} events from {}: {} appended, {} duplicates (already present), "
                    "last position {} ({} appends, {:.1f} s, {:.0f} events/s)\n",
                    st.events, reader.name(), st.appended, st.duplicates, st.last_position,
                    st.appends, secs, secs > 0 ? static_cast<double>(st.events) / secs : 0.0));
}

// ---------------------------------------------------------------------------
// tail
// ---------------------------------------------------------------------------

struct TailOptions {
  int64_t from = -1;  // -1: not given
  bool from_start = false;
  bool from_end = false;
  std::string name;
  FilterFlags filter;
  uint32_t batch = 0;
};

// Waits for SIGINT and SIGTERM on its own thread (they are blocked in every
// other thread: the constructor blocks them in the calling thread before
// any gRPC thread exists, and threads inherit the mask) and cancels the
// registered call when one arrives. No work happens in a signal handler.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] { Run(); });
  }
  ~SignalWatcher() {
    stop_ = true;
    thread_.join();
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Cancels `call` when a signal comes (at once if one came already).
  void Watch(grpc::ClientContext* call) {
    std::lock_guard<std::mutex> lock(mu_);
    call_ = call;
    if (signal_ != 0 && call_ != nullptr) call_->TryCancel();
  }

  // The signal that arrived, or 0.
  int signal() const { return signal_; }

 private:
  void Run() {
    const timespec tick = {0, 100 * 1000 * 1000};
    while (!stop_) {
      const int sig = sigtimedwait(&set_, nullptr, &tick);
      if (sig <= 0 || signal_ != 0) continue;  // timeout, EINTR, or a second signal
      std::lock_guard<std::mutex> lock(mu_);
      signal_ = sig;
      if (call_ != nullptr) call_->TryCancel();
    }
  }

  sigset_t set_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> signal_{0};
  std::mutex mu_;
  grpc::ClientContext* call_ = nullptr;
};

void PrintTailEvent(const Context& ctx, const v1::Event& e) {
  if (ctx.json()) return ctx.PrintJson(e);
  const std::string type = EventType(e);
  std::string line = fmt::format("{:>8}  {:<32}  {}  ", e.position(), StreamAt(e),
                                 FormatRecorded(e.recorded_time()));
  absl::StrAppend(&line, ctx.Paint(type, "36"), std::string(type.size() < 22 ? 22 - type.size() : 0, ' '),
                  "  ", Summary(e), "\n");
  Print(line);
}

void Notice(const Context& ctx, const std::string& text) {
  const std::string line = ctx.Paint(text, "2") + "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void RunTail(Context& ctx, const TailOptions& o) {
  v1::SubscribeRequest req;
  if (o.from_start || (o.from >= 0 && o.from <= 1)) {
    req.set_from_start(true);
  } else if (o.from > 1) {
    req.set_after_position(static_cast<uint64_t>(o.from - 1));
  } else if (o.from_end || o.name.empty()) {
    req.set_from_end(true);
  }
  req.set_subscription_name(o.name);
  if (!o.filter.empty()) *req.mutable_filter() = ToFilter(o.filter);
  req.set_max_batch_events(o.batch);

  // Before the first gRPC call, so that no gRPC thread can take the signals.
  SignalWatcher signals;
  if (!ctx.json() && isatty(STDOUT_FILENO)) {
    Print(ctx.Paint(fmt::format("{:>8}  {:<32}  {:<19}  {:<22}  {}\n", "POSITION",
                                "STREAM@VERSION", "RECORDED", "TYPE", "SUMMARY"),
                    "1"));
  }

  uint64_t processed = 0;  // every matching event up to here is printed
  uint64_t committed = 0;
  bool have_processed = false;
  absl::Time last_commit = absl::Now();
  auto commit = [&](bool final_commit) {
    if (o.name.empty() || !have_processed || processed == committed) return;
    if (!final_commit && absl::Now() - last_commit < absl::Seconds(1)) return;
    v1::CommitCheckpointRequest creq;
    creq.set_subscription_name(o.name);
    creq.set_position(processed);
    v1::CommitCheckpointResponse cresp;
    WithContext("committing the checkpoint: ", "", [&] {
      ctx.Check(ctx.events().CommitCheckpoint(ctx.Call().get(), creq, &cresp));
    });
    committed = processed;
    last_commit = absl::Now();
  };
  auto advance = [&](uint64_t position) {
    if (!have_processed || position > processed) processed = position;
    have_processed = true;
  };

  std::unique_ptr<grpc::ClientContext> call = ctx.Call(true);
  signals.Watch(call.get());
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      ctx.events().Subscribe(call.get(), req);
  v1::SubscribeResponse msg;
  bool received_any = false;
  while (signals.signal() == 0 && reader->Read(&msg)) {
    received_any = true;
    switch (msg.message_case()) {
      case v1::SubscribeResponse::kEvent:
        PrintTailEvent(ctx, msg.event());
        advance(msg.event().position());
        break;
      case v1::SubscribeResponse::kEvents:
        for (const v1::Event& e : msg.events().events()) {
          PrintTailEvent(ctx, e);
          advance(e.position());
        }
        break;
      case v1::SubscribeResponse::kCaughtUp:
        advance(msg.caught_up().position());
        Notice(ctx, absl::StrCat("-- caught up at position ", msg.caught_up().position(),
                                 "; waiting for new events (Ctrl-C to stop)"));
        commit(true);
        break;
      case v1::SubscribeResponse::kCheckpoint:
        advance(msg.checkpoint().position());
        break;
      case v1::SubscribeResponse::kFellBehind:
        Notice(ctx, absl::StrCat("-- fell behind at position ", msg.fell_behind().position(), " (",
                                 msg.fell_behind().reason(),
                                 "); catching up from the log, no event is lost"));
        break;
      case v1::SubscribeResponse::kHeartbeat:
      case v1::SubscribeResponse::MESSAGE_NOT_SET:
        break;
    }
    commit(false);
  }
  if (signals.signal() != 0) {
    call->TryCancel();
    reader->Finish();  // CANCELLED: the ending we asked for
    commit(true);
    if (!o.name.empty() && have_processed) {
      Notice(ctx, absl::StrCat("-- stopped; subscription '", o.name, "' resumes after position ",
                               committed));
    }
    return;
  }
  const grpc::Status status = reader->Finish();
  // Keep what was processed before the stream ended; best effort.
  try {
    commit(true);
  } catch (const CommandError&) {
  }
  std::string hint;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && have_processed) {
    hint = o.name.empty()
               ? absl::StrCat("; resume with --from ", processed + 1)
               : absl::StrCat("; run again with --name ", o.name, " to resume");
  }
  WithContext(received_any ? "subscription ended: " : "", hint, [&] { ctx.Check(status); });
  if (status.ok()) Notice(ctx, "-- the server ended the subscription");
}

// ---------------------------------------------------------------------------
// subscriptions
// ---------------------------------------------------------------------------

std::string FormatFilter(const v1::SubscriptionFilter& f) {
  std::vector<std::string> parts;
  if (!f.event_types().empty()) parts.push_back("type=" + absl::StrJoin(f.event_types(), ","));
  if (!f.org_ids().empty()) parts.push_back("org=" + absl::StrJoin(f.org_ids(), ","));
  if (!f.stream_prefixes().empty()) {
    parts.push_back("prefix=" + absl::StrJoin(f.stream_prefixes(), ","));
  }
  return parts.empty() ? "(all events)" : absl::StrJoin(parts, " ");
}

void RunListSubscriptions(Context& ctx) {
  Table table({"NAME", ">CHECKPOINT", "FILTER", "CREATED", "UPDATED"});
  std::string token;
  do {
    v1::ListSubscriptionsRequest req;
    req.set_page_size(1000);
    req.set_page_token(token);
    v1::ListSubscriptionsResponse resp;
    ctx.Check(ctx.events().ListSubscriptions(ctx.Call().get(), req, &resp));
    for (const v1::NamedSubscription& s : resp.subscriptions()) {
      if (ctx.json()) {
        ctx.PrintJson(s);
        continue;
      }
      table.Row({s.name(), std::to_string(s.checkpoint_position()), FormatFilter(s.filter()),
                 FormatRecorded(s.create_time()), FormatRecorded(s.update_time())});
    }
    token = resp.next_page_token();
  } while (!token.empty());
  if (!ctx.json()) Print(table.Render(ctx));
}

void RunDeleteSubscription(Context& ctx, const std::string& name) {
  v1::DeleteSubscriptionRequest req;
  req.set_name(name);
  v1::DeleteSubscriptionResponse resp;
  ctx.Check(ctx.events().DeleteSubscription(ctx.Call().get(), req, &resp));
  if (ctx.json()) return ctx.PrintJson(resp);
  Print(absl::StrCat("deleted subscription ", name, "\n"));
}

void RunCommitCheckpoint(Context& ctx, const std::string& name, uint64_t position) {
  v1::CommitCheckpointRequest req;
  req.set_subscription_name(name);
  req.set_position(position);
  v1::CommitCheckpointResponse resp;
  ctx.Check(ctx.events().CommitCheckpoint(ctx.Call().get(), req, &resp));
  if (ctx.json()) return ctx.PrintJson(resp);
  Print(absl::StrCat("subscription ", name, " resumes after position ",
                     resp.subscription().checkpoint_position(), "\n"));
}

}  // namespace

void AddEventCommands(CLI::App& app, Context& ctx) {
  // events read | append
  CLI::App* events = app.add_subcommand(
      "events", "Read the event log or append events to a stream.\n\nExample:\n"
                "  dealwire events read --stream org/openai");
  events->require_subcommand(1);

  {
    auto o = std::make_shared<ReadOptions>();
    CLI::App* cmd = events->add_subcommand(
        "read",
        "Read events: one stream (--stream, in version order) or the whole log (in position "
        "order), following pages up to --limit.\n\nExample:\n"
        "  dealwire events read --stream deal/amazon-openai-2026\n"
        "  dealwire events read --from 40 --limit 10 -o json\n"
        "  dealwire events read --backwards --limit 5 --type InvestmentReported");
    cmd->add_option("--stream", o->stream, "the stream to read (default: the whole log)");
    cmd->add_option("--from", o->from,
                    "first position (whole log) or stream version (--stream), inclusive")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--backwards", o->backwards, "newest first");
    cmd->add_option("--limit", o->limit, "at most this many events (0: all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    AddFilterFlags(cmd, &o->filter);
    cmd->callback([&ctx, o] { RunRead(ctx, *o); });
  }

  {
    auto o = std::make_shared<AppendOptions>();
    CLI::App* cmd = events->add_subcommand(
        "append",
        "Append events to one stream as one atomic append: the events of a JSON Lines file (- "
        "for stdin), or one event given with --json. Events without an eventId get a random "
        "one.\n\nExample:\n"
        "  dealwire events append --stream org/acme --expected-version no-stream acme.jsonl\n"
        "  dealwire events append --stream org/acme --json '{\"eventId\":\"...\", ...}'");
    cmd->add_option("--stream", o->stream, "the stream to append to")->required();
    cmd->add_option("--expected-version", o->expected,
                    "required state of the stream: a version number, no-stream, exists or any")
        ->capture_default_str();
    cmd->add_option("FILE", o->file, "JSON Lines file of events, or - for stdin");
    cmd->add_option("--json", o->json, "one event as protobuf JSON");
    cmd->callback([&ctx, o] { RunAppend(ctx, *o); });
  }

  // tail
  {
    auto o = std::make_shared<TailOptions>();
    CLI::App* cmd = app.add_subcommand(
        "tail",
        "Follow the event log live: one line per event (stdout), status lines such as \"caught "
        "up\" on stderr. Ctrl-C or SIGTERM stops it (exit 0). Without a start it shows only new "
        "events; with --name it resumes a durable subscription where it last stopped and "
        "commits its checkpoint as it goes.\n\nExample:\n"
        "  dealwire tail --org openai\n"
        "  dealwire tail --from-start --type InvestmentReported --type DealStageChanged\n"
        "  dealwire tail --name deal-alerts --type DealStageChanged -o json");
    auto* from = cmd->add_option("--from", o->from, "start at this position (inclusive)")
                     ->check(CLI::NonNegativeNumber);
    auto* start = cmd->add_flag("--from-start", o->from_start, "start with the first event");
    auto* end = cmd->add_flag("--from-end", o->from_end, "only events committed from now on");
    from->excludes(start, end);
    start->excludes(end);
    cmd->add_option("--name", o->name,
                    "durable subscription name: resume from its checkpoint, commit as it goes");
    AddFilterFlags(cmd, &o->filter);
    cmd->add_option("--batch", o->batch, "let the server send up to N events per message (catch-up speed)")
        ->check(CLI::Range(0, 1000));
    cmd->callback([&ctx, o] { RunTail(ctx, *o); });
  }

  // import
  {
    auto o = std::make_shared<ImportOptions>();
    CLI::App* cmd = app.add_subcommand(
        "import",
        "Import a JSON Lines file of events (each with its stream), in file order. Consecutive "
        "events of one stream go in one atomic append of up to --batch events. Safe to re-run: "
        "events already stored (same event id) count as duplicates and nothing is written "
        "twice.\n\nExample:\n"
        "  dealwire import demo/seed_story.jsonl\n"
        "  zcat events.jsonl.gz | dealwire import - -o json");
    cmd->add_option("FILE", o->file, "JSON Lines file, or - for stdin")->required();
    cmd->add_option("--batch", o->batch, "events per append, at most")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->callback([&ctx, o] { RunImport(ctx, *o); });
  }

  // subscriptions list | delete | commit
  {
    CLI::App* subs = app.add_subcommand(
        "subscriptions", "List, delete or rewind durable named subscriptions (see tail --name).\n\n"
                         "Example:\n  dealwire subscriptions list");
    subs->require_subcommand(1);
    CLI::App* list = subs->add_subcommand(
        "list", "List the named subscriptions with their checkpoints and filters.\n\nExample:\n"
                "  dealwire subscriptions list -o json");
    list->callback([&ctx] { RunListSubscriptions(ctx); });
    auto name = std::make_shared<std::string>();
    CLI::App* del = subs->add_subcommand(
        "delete", "Delete a named subscription and its checkpoint (its running tails end).\n\n"
                  "Example:\n  dealwire subscriptions delete deal-alerts");
    del->add_option("NAME", *name, "the subscription")->required();
    del->callback([&ctx, name] { RunDeleteSubscription(ctx, *name); });
    struct CommitOpts {
      std::string name;
      uint64_t position = 0;
    };
    auto c = std::make_shared<CommitOpts>();
    CLI::App* commit = subs->add_subcommand(
        "commit",
        "Set a named subscription's checkpoint (CommitCheckpoint): its next tail resumes with "
        "the events after POSITION. 0 replays from the start; a position past the end of the "
        "log is refused.\n\n"
        "Example:\n  dealwire subscriptions commit deal-alerts 0   # replay everything");
    commit->add_option("NAME", c->name, "the subscription")->required();
    commit->add_option("POSITION", c->position, "the new checkpoint")->required();
    commit->callback([&ctx, c] { RunCommitCheckpoint(ctx, c->name, c->position); });
  }
}

}  // namespace dealwire::cli
