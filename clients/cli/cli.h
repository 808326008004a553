// clients/cli/cli.h — what every `dealwire` command shares: the connection
// and global flags (Context), errors with exit codes (CommandError), output
// in both modes (PrintJson, Table) and the formatting of domain values.
//
//   void AddFooCommands(CLI::App& app, Context& ctx) {
//     CLI::App* cmd = app.add_subcommand("foo", "Does foo.\n\nExample:\n  dealwire foo x");
//     auto* id = new std::string;  // owned by the command's lifetime (the process)
//     cmd->add_option("ID", *id, "the id")->required();
//     cmd->callback([&ctx, id] {
//       v1::GetFooResponse r;
//       ctx.Check(ctx.intel().GetFoo(ctx.Call().get(), request, &r));  // throws on error
//       if (ctx.json()) return ctx.PrintJson(r);
//       Table t({"ID", "AMOUNT"});
//       t.Row({r.id(), FormatMoney(r.amount())});
//       ctx.Print(t);
//     });
//   }
//
// Commands run inside CLI11 callbacks; an error is thrown as CommandError and
// main() prints "dealwire: <message>" on stderr and exits with its code.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "dealwire/v1/admin.grpc.pb.h"
#include "dealwire/v1/event_store.grpc.pb.h"
#include "dealwire/v1/market_intel.grpc.pb.h"
#include "dealwire/v1/types.pb.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace dealwire::cli {

// Exit codes: 0 success; 1 the server refused or failed the call (its gRPC
// status is printed); 2 bad input, refused before anything was sent; 3 the
// server could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED); 130 Ctrl-C.
inline constexpr int kExitRefused = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitInterrupted = 130;

struct CommandError {
  int exit_code;
  std::string message;
};

// Throws CommandError{kExitBadInput, "<field>: <what>"}.
[[noreturn]] void BadInput(absl::string_view field, absl::string_view what);

enum class Output { kTable, kJson };

class Context {
 public:
  // Global flags (main.cc binds them).
  std::string server = "127.0.0.1:50051";
  Output output = Output::kTable;
  double timeout_seconds = 10;
  bool color = false;  // decided in main: a TTY and no NO_COLOR

  bool json() const { return output == Output::kJson; }

  // Stubs on one channel to `server`, made on first use.
  v1::EventStore::Stub& events();
  v1::MarketIntel::Stub& intel();
  v1::Admin::Stub& admin();

  // A client context with the --timeout deadline (none when `streaming`:
  // streams such as tail run until stopped).
  std::unique_ptr<grpc::ClientContext> Call(bool streaming = false) const;

  // Throws CommandError for a failed status: "<CODE>: <message>", exit 3 for
  // UNAVAILABLE and DEADLINE_EXCEEDED (with the server address), 1 otherwise.
  void Check(const grpc::Status& status) const;

  // Prints `m` as one line of protobuf's canonical JSON (lowerCamelCase
  // names, enum names, int64 as strings, default values included).
  void PrintJson(const google::protobuf::Message& m) const;

  // Wraps `text` in an ANSI colour when colour is on. `code` is an SGR code:
  // "1" bold, "2" dim, "31" red, "32" green, "33" yellow, "36" cyan.
  std::string Paint(absl::string_view text, absl::string_view code) const;

 private:
  std::shared_ptr<grpc::Channel> channel();
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventStore::Stub> events_;
  std::unique_ptr<v1::MarketIntel::Stub> intel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// A text table for terminals: columns aligned by display width (UTF-8 aware,
// colour codes not counted), numbers right-aligned when the column is
// declared so, cells never truncated.
class Table {
 public:
  // A header starting with '>' is right-aligned (the '>' is not shown).
  explicit Table(std::vector<std::string> headers);
  void Row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // The table, headers in bold when `ctx.color`, each line ending in '\n'.
  // An empty table prints its headers and "(none)".
  std::string Render(const Context& ctx) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Prints `text` to stdout as is.
void Print(absl::string_view text);

// Prints a title line (bold with colour).
void Title(const Context& ctx, absl::string_view text);

// Prints aligned "key  value" lines, indented by two spaces (keys dim with
// colour).
void KeyValues(const Context& ctx, const std::vector<std::pair<std::string, std::string>>& rows);

// Display width of `s`: UTF-8 code points, ANSI escape sequences excluded.
size_t DisplayWidth(absl::string_view s);

// $50.0B, €4.0M, £950K, ¥1.2B, $1,234 (below 10,000 exact), CHF 3.0M for
// currencies without a symbol; "-" for an empty Money. Currency always shown.
std::string FormatMoney(const v1::Money& m);

// Whole currency units of `m` as a decimal string, exact ("50000000000",
// "12.5" with nanos): for JSON-free scripting of amounts in tables.
std::string FormatMoneyExact(const v1::Money& m);

// 12.34 % from parts per million; a range as "2.0–4.0 %"; "unknown" when the
// fraction is not set. `qualifier` (e.g. "estimate") follows in brackets.
std::string FormatOwnership(const v1::OwnershipFraction& f);
std::string FormatPpm(int64_t parts_per_million);

// 2026-01-28, 2026-01 (MONTH), 2026-Q1 (QUARTER), 2026 (YEAR); "-" when unset.
std::string FormatEffective(const v1::EffectiveDate& d);
std::string FormatDate(const v1::Date& d);

// "reported", "confirmed", …; "-" when unspecified.
std::string FormatConfidence(v1::Confidence c);

// The first source as "publisher (url)", or "-"; " +N" when there are more.
std::string FormatSources(const google::protobuf::RepeatedPtrField<v1::Source>& sources);

// An enum value's name without its type prefix, lower-case with dashes:
// DEAL_STAGE_IN_TALKS → "in-talks"; "-" for the *_UNSPECIFIED value.
std::string EnumLabel(const google::protobuf::EnumDescriptor* type, int value);

// EnumLabel for a generated enum type: EnumLabel(v1::DEAL_STAGE_IN_TALKS) → "in-talks".
template <typename E>
std::string EnumLabel(E value) {
  return EnumLabel(google::protobuf::GetEnumDescriptor<E>(), value);
}

// The prefix of the values of enum `type`: its name in UPPER_SNAKE_CASE and
// '_' (DealStage → "DEAL_STAGE_").
std::string EnumPrefix(const google::protobuf::EnumDescriptor* type);

// What to read of the event log: one stream (in version order) or the whole
// log (in position order, narrowed by `filter`).
struct LogRead {
  std::string stream;  // empty: the whole log
  v1::Direction direction = v1::DIRECTION_FORWARDS;
  std::optional<uint64_t> from;  // first stream version (stream) or position (log)
  int32_t page_size = 1000;
  v1::SubscriptionFilter filter;  // the whole log only
};

// Reads the page of `read` at `page_token` ("" for the first) into
// `*events` (ReadStream or ReadAll) and returns the next page's token, ""
// after the last. Throws CommandError as Context::Check does.
std::string ReadEvents(Context& ctx, const LogRead& read, const std::string& page_token,
                       google::protobuf::RepeatedPtrField<v1::Event>* events);

}  // namespace dealwire::cli
