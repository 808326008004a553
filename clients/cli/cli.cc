#include "clients/cli/cli.h"

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "fmt/format.h"
#include "google/protobuf/util/json_util.h"

namespace dealwire::cli {

void BadInput(absl::string_view field, absl::string_view what) {
  throw CommandError{kExitBadInput, absl::StrCat(field, ": ", what)};
}

std::shared_ptr<grpc::Channel> Context::channel() {
  if (channel_ == nullptr) {
    grpc::ChannelArguments args;
    // Streams (tail, rebuild) may sit idle for long: keep the connection
    // alive through idle periods instead of finding it dead on the next event.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  }
  return channel_;
}

v1::EventStore::Stub& Context::events() {
  if (events_ == nullptr) events_ = v1::EventStore::NewStub(channel());
  return *events_;
}
v1::MarketIntel::Stub& Context::intel() {
  if (intel_ == nullptr) intel_ = v1::MarketIntel::NewStub(channel());
  return *intel_;
}
v1::Admin::Stub& Context::admin() {
  if (admin_ == nullptr) admin_ = v1::Admin::NewStub(channel());
  return *admin_;
}

std::unique_ptr<grpc::ClientContext> Context::Call(bool streaming) const {
  auto c = std::make_unique<grpc::ClientContext>();
  if (!streaming && timeout_seconds > 0) {
    c->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::microseconds(static_cast<int64_t>(timeout_seconds * 1e6)));
  }
  // Wait for the server to come up within the deadline rather than failing
  // at once while the connection is being made.
  c->set_wait_for_ready(!streaming);
  return c;
}

namespace {
const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}
}  // namespace

void Context::Check(const grpc::Status& status) const {
  if (status.ok()) return;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    throw CommandError{kExitUnreachable,
                       absl::StrCat(CodeName(status.error_code()), ": ", status.error_message(),
                                    " (server ", server, "; set --server or DEALWIRE_SERVER)")};
  }
  throw CommandError{kExitRefused,
                     absl::StrCat(CodeName(status.error_code()), ": ", status.error_message())};
}

void Context::PrintJson(const google::protobuf::Message& m) const {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  auto s = google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!s.ok()) throw CommandError{kExitRefused, absl::StrCat("printing JSON: ", s.ToString())};
  out.push_back('\n');
  Print(out);
}

std::string Context::Paint(absl::string_view text, absl::string_view code) const {
  if (!color || text.empty()) return std::string(text);
  return absl::StrCat("\x1b[", code, "m", text, "\x1b[0m");
}

void Print(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void Title(const Context& ctx, absl::string_view text) { Print(ctx.Paint(text, "1") + "\n"); }

void KeyValues(const Context& ctx, const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, DisplayWidth(key));
  std::string out;
  for (const auto& [key, value] : rows) {
    absl::StrAppend(&out, "  ", ctx.Paint(key, "2"),
                    std::string(width - DisplayWidth(key) + 2, ' '), value, "\n");
  }
  Print(out);
}

size_t DisplayWidth(absl::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {  // ESC [ ... final byte in @..~
      ++i;
      if (i < s.size() && s[i] == '[') {
        ++i;
        while (i < s.size() && !(s[i] >= '@' && s[i] <= '~')) ++i;
      }
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) {
    const bool right = !h.empty() && h[0] == '>';
    right_.push_back(right);
    headers_.push_back(right ? h.substr(1) : std::move(h));
  }
}

void Table::Row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(const Context& ctx) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = DisplayWidth(headers_[c]);
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = widths[c] - DisplayWidth(cells[c]);
      const std::string cell = header ? ctx.Paint(cells[c], "1") : cells[c];
      const bool last = c + 1 == cells.size();
      if (right_[c]) {
        l.append(pad, ' ');
        l += cell;
      } else {
        l += cell;
        if (!last) l.append(pad, ' ');
      }
      if (!last) l += "  ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(headers_, true);
  for (const auto& row : rows_) line(row, false);
  if (rows_.empty()) out += ctx.Paint("(none)", "2") + "\n";
  return out;
}

namespace {
std::string Symbol(absl::string_view code) {
  if (code == "USD") return "$";
  if (code == "EUR") return "€";
  if (code == "GBP") return "£";
  if (code == "JPY") return "¥";
  if (code == "INR") return "₹";
  if (code == "KRW") return "₩";
  return "";
}
std::string Grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}
}  // namespace

std::string FormatMoney(const v1::Money& m) {
  if (m.currency_code().empty() && m.units() == 0 && m.nanos() == 0) return "-";
  const std::string symbol = Symbol(m.currency_code());
  const double value = static_cast<double>(m.units()) + m.nanos() / 1e9;
  const double mag = value < 0 ? -value : value;
  std::string number;
  if (mag >= 1e12) {
    number = fmt::format("{:.1f}T", value / 1e12);
  } else if (mag >= 1e9) {
    number = fmt::format("{:.1f}B", value / 1e9);
  } else if (mag >= 1e6) {
    number = fmt::format("{:.1f}M", value / 1e6);
  } else if (mag >= 1e4) {
    number = fmt::format("{:.0f}K", value / 1e3);
  } else {
    number = Grouped(m.units());
    if (m.nanos() != 0) number += fmt::format(".{:02d}", std::abs(m.nanos()) / 10000000);
  }
  if (!symbol.empty()) {
    if (number[0] == '-') return absl::StrCat("-", symbol, number.substr(1));
    return absl::StrCat(symbol, number);
  }
  return absl::StrCat(m.currency_code(), " ", number);
}

std::string FormatMoneyExact(const v1::Money& m) {
  if (m.nanos() == 0) return std::to_string(m.units());
  std::string frac = fmt::format("{:09d}", std::abs(m.nanos()));
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  const bool negative = m.units() < 0 || m.nanos() < 0;
  return absl::StrCat(negative ? "-" : "", std::abs(m.units()), ".", frac);
}

std::string FormatPpm(int64_t ppm) {
  const double pct = static_cast<double>(ppm) / 1e4;
  return fmt::format("{:.2f} %", pct);
}

std::string FormatOwnership(const v1::OwnershipFraction& f) {
  std::string out;
  switch (f.value_case()) {
    case v1::OwnershipFraction::kExact:
      out = FormatPpm(f.exact().parts_per_million());
      break;
    case v1::OwnershipFraction::kRange:
      out = fmt::format("{:.2f}–{:.2f} %", f.range().min_parts_per_million() / 1e4,
                        f.range().max_parts_per_million() / 1e4);
      break;
    case v1::OwnershipFraction::VALUE_NOT_SET:
      return "unknown";
  }
  if (!f.qualifier().empty()) absl::StrAppend(&out, " (", f.qualifier(), ")");
  return out;
}

std::string FormatDate(const v1::Date& d) {
  if (d.year() == 0) return "-";
  if (d.month() == 0) return fmt::format("{:04d}", d.year());
  if (d.day() == 0) return fmt::format("{:04d}-{:02d}", d.year(), d.month());
  return fmt::format("{:04d}-{:02d}-{:02d}", d.year(), d.month(), d.day());
}

std::string FormatEffective(const v1::EffectiveDate& e) {
  const v1::Date& d = e.date();
  if (d.year() == 0) return "-";
  switch (e.precision()) {
    case v1::DATE_PRECISION_YEAR:
      return fmt::format("{:04d}", d.year());
    case v1::DATE_PRECISION_QUARTER:
      return fmt::format("{:04d}-Q{}", d.year(), (std::max(d.month(), 1) - 1) / 3 + 1);
    case v1::DATE_PRECISION_MONTH:
      return fmt::format("{:04d}-{:02d}", d.year(), d.month());
    default:
      return FormatDate(d);
  }
}

std::string EnumPrefix(const google::protobuf::EnumDescriptor* type) {
  std::string prefix;
  for (char c : type->name()) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isupper(u) && !prefix.empty()) prefix.push_back('_');
    prefix.push_back(absl::ascii_toupper(u));
  }
  prefix.push_back('_');
  return prefix;
}

std::string EnumLabel(const google::protobuf::EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return std::to_string(value);
  const std::string prefix = EnumPrefix(type);
  std::string name = v->name();
  if (absl::StartsWith(name, prefix)) name = name.substr(prefix.size());
  if (name == "UNSPECIFIED") return "-";
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

std::string FormatConfidence(v1::Confidence c) { return EnumLabel(c); }

std::string ReadEvents(Context& ctx, const LogRead& read, const std::string& page_token,
                       google::protobuf::RepeatedPtrField<v1::Event>* events) {
  if (!read.stream.empty()) {
    v1::ReadStreamRequest req;
    req.set_stream(read.stream);
    req.set_direction(read.direction);
    if (read.from.has_value()) req.set_from_version(*read.from);
    req.set_page_size(read.page_size);
    req.set_page_token(page_token);
    v1::ReadStreamResponse resp;
    ctx.Check(ctx.events().ReadStream(ctx.Call().get(), req, &resp));
    events->Swap(resp.mutable_events());
    return resp.next_page_token();
  }
  v1::ReadAllRequest req;
  req.set_direction(read.direction);
  if (read.from.has_value()) req.set_from_position(*read.from);
  req.set_page_size(read.page_size);
  req.set_page_token(page_token);
  if (read.filter.ByteSizeLong() > 0) *req.mutable_filter() = read.filter;
  v1::ReadAllResponse resp;
  ctx.Check(ctx.events().ReadAll(ctx.Call().get(), req, &resp));
  events->Swap(resp.mutable_events());
  return resp.next_page_token();
}

std::string FormatSources(const google::protobuf::RepeatedPtrField<v1::Source>& sources) {
  if (sources.empty()) return "-";
  const v1::Source& s = sources[0];
  std::string out = s.publisher().empty() ? s.url() : s.publisher();
  if (out.empty()) out = s.title();
  if (sources.size() > 1) absl::StrAppend(&out, " +", sources.size() - 1);
  return out;
}

}  // namespace dealwire::cli
