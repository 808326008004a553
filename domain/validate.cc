#include "domain/validate.h"

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/calendar.h"
#include "common/currency.h"
#include "common/event_types.h"
#include "common/uuid.h"

namespace dealwire::domain {
namespace {

namespace v1 = dealwire::v1;

constexpr size_t kMaxStreamBytes = 200;
constexpr size_t kMaxDomainIdBytes = 100;
constexpr int kMaxSources = 20;
constexpr size_t kMaxPublisherBytes = 200;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxTitleBytes = 500;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// A field path in parts ("events[2]", ".effective", ".date"), put together
// only when a message names it: valid events cost no allocation.
class FieldPath {
 public:
  FieldPath(absl::string_view root) { Add(root, -1); }  // NOLINT: a root is a path
  FieldPath(const FieldPath& parent, absl::string_view part, int index = -1) : FieldPath(parent) {
    Add(part, index);
  }

  // Returns the path, e.g. "events[2].sources[0].url".
  std::string str() const {
    std::string out;
    for (int i = 0; i < n_; ++i) {
      absl::StrAppend(&out, parts_[i]);
      if (index_[i] >= 0) absl::StrAppend(&out, "[", index_[i], "]");
    }
    return out;
  }

 private:
  static constexpr int kMaxParts = 8;
  void Add(absl::string_view part, int index) {
    if (n_ == kMaxParts) {  // deeper than any event goes: keep the last part
      parts_[n_ - 1] = part;
      index_[n_ - 1] = index;
      return;
    }
    parts_[n_] = part;
    index_[n_] = index;
    ++n_;
  }

  absl::string_view parts_[kMaxParts];
  int index_[kMaxParts] = {};
  int n_ = 0;
};

absl::Status Invalid(const FieldPath& field, absl::string_view what) {
  return Invalid(field.str(), what);
}

absl::Status CheckDate(const v1::Date& d, const FieldPath& field);
absl::Status CheckEffectiveDate(const v1::EffectiveDate& e, const FieldPath& field);
absl::Status CheckPayload(const v1::EventPayload& p, const FieldPath& field);

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxDescriptionBytes = 4000;
constexpr size_t kMaxSlugBytes = 64;
constexpr int kMaxSectors = 20;
constexpr int kMaxAliases = 50;
constexpr int kMaxLeadInvestors = 50;
constexpr int kMaxParties = 20;
constexpr int64_t kMaxPpm = 1'000'000;
constexpr bool kOptional = false;

// Returns a prefix of `s` short enough to quote in a message.
absl::string_view Clip(absl::string_view s) { return s.substr(0, 100); }

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Returns whether `s` is 1..max bytes of lower-case letters and digits in
// words joined by single `sep`s ("cloud-infrastructure", "series_a").
bool IsSeparatedSlug(absl::string_view s, char sep, size_t max) {
  if (s.empty() || s.size() > max || s.front() == sep || s.back() == sep) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == sep ? s[i - 1] == sep : !IsLowerAlnum(s[i])) return false;
  }
  return true;
}

// Returns whether `url` is "http://" or "https://", a host, and the rest,
// without spaces or control characters.
bool IsHttpUrl(absl::string_view url) {
  size_t host;
  if (absl::StartsWith(url, "https://")) {
    host = 8;
  } else if (absl::StartsWith(url, "http://")) {
    host = 7;
  } else {
    return false;
  }
  if (host >= url.size() || url[host] == '/' || url[host] == '?' || url[host] == '#') return false;
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Checks the fields of one payload message. Only the first failure is kept;
// its field path is built only then, so valid events cost no allocation.
class PayloadChecker {
 public:
  explicit PayloadChecker(FieldPath base) : base_(base) {}

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  const FieldPath& base() const { return base_; }

  // Records a failure of `sub` (a path below the base; "" for the base).
  void Fail(absl::string_view sub, absl::string_view what) {
    if (!status_.ok()) return;
    status_ = Invalid(sub.empty() ? base_.str() : absl::StrCat(base_.str(), ".", sub), what);
  }

  // Records a failure of element `index` of list `sub`.
  void FailAt(absl::string_view sub, int index, absl::string_view what) {
    if (!status_.ok()) return;
    Fail(absl::StrCat(sub, "[", index, "]"), what);
  }

  // A domain id; `required` false accepts the empty string.
  void Id(absl::string_view sub, const std::string& id, bool required = true) {
    if (std::string why = IdError(id, required); !why.empty()) Fail(sub, why);
  }

  // A list of domain ids: at most `max`, each required, no duplicates.
  template <typename List>
  void Ids(absl::string_view sub, const List& ids, int max) {
    Count(sub, ids.size(), max);
    for (int i = 0; i < ids.size(); ++i) {
      if (std::string why = IdError(ids[i], true); !why.empty()) FailAt(sub, i, why);
    }
    Unique(sub, ids);
  }

  // `a` must differ from `b` (named `b_name`); empty values are not compared.
  void Distinct(absl::string_view sub, const std::string& a, const std::string& b,
                absl::string_view b_name) {
    if (!a.empty() && a == b) Fail(sub, absl::StrCat("'", Clip(a), "' must differ from ", b_name));
  }

  void EventId(absl::string_view sub, const std::string& id) {
    if (!common::IsCanonicalUuid(id)) {
      Fail(sub, absl::StrCat("'", Clip(id), "' is not an event id (a canonical lower-case UUID)"));
    }
  }

  // Free text of min..max bytes.
  void Text(absl::string_view sub, const std::string& s, size_t min, size_t max) {
    if (std::string why = TextError(s, min, max); !why.empty()) Fail(sub, why);
  }

  // A list of free texts (aliases): at most `max`, each 1..200 bytes, no
  // duplicates.
  template <typename List>
  void Texts(absl::string_view sub, const List& texts, int max) {
    Count(sub, texts.size(), max);
    for (int i = 0; i < texts.size(); ++i) {
      if (std::string why = TextError(texts[i], 1, kMaxNameBytes); !why.empty()) {
        FailAt(sub, i, why);
      }
    }
    Unique(sub, texts);
  }

  // Sector slugs: at most 20 lower-kebab-case slugs of 1..64 bytes, no
  // duplicates.
  template <typename List>
  void Sectors(absl::string_view sub, const List& sectors) {
    Count(sub, sectors.size(), kMaxSectors);
    for (int i = 0; i < sectors.size(); ++i) {
      if (!IsSeparatedSlug(sectors[i], '-', kMaxSlugBytes)) {
        FailAt(sub, i,
               absl::StrCat("'", Clip(sectors[i]),
                            "' is not a sector slug: 1..64 bytes of lower-kebab-case "
                            "(e.g. \"cloud-infrastructure\")"));
      }
    }
    Unique(sub, sectors);
  }

  // A round label: one lower_snake_case word of 1..64 bytes.
  void Label(absl::string_view sub, const std::string& label) {
    if (label.empty()) {
      Fail(sub, "is required");
    } else if (!IsSeparatedSlug(label, '_', kMaxSlugBytes) ||
               !(label[0] >= 'a' && label[0] <= 'z')) {
      Fail(sub, absl::StrCat("'", Clip(label),
                             "' is not a lower_snake_case label of 1..64 bytes (e.g. "
                             "\"series_a\")"));
    }
  }

  // An absolute http(s) URL of at most 2048 bytes, or empty.
  void Url(absl::string_view sub, const std::string& url) {
    if (url.empty()) return;
    if (url.size() > kMaxUrlBytes) {
      Fail(sub, absl::StrFormat("%d bytes exceed the limit of %d", url.size(), kMaxUrlBytes));
    } else if (!IsHttpUrl(url)) {
      Fail(sub, absl::StrCat("'", Clip(url), "' is not an absolute http or https URL"));
    }
  }

  // An enum value; `required` rejects 0 (UNSPECIFIED). Unknown numbers are
  // always refused.
  void Enum(absl::string_view sub, int value, bool (*is_valid)(int), bool required = true) {
    if (required && value == 0) {
      Fail(sub, "is required (not UNSPECIFIED)");
    } else if (!is_valid(value)) {
      Fail(sub, absl::StrFormat("%d is not a known value", value));
    }
  }

  void Currency(absl::string_view sub, const std::string& code) {
    if (code.empty()) {
      Fail(sub, "is required (an ISO 4217 code such as \"USD\")");
    } else if (!common::IsIso4217(code)) {
      Fail(sub, absl::StrCat("'", Clip(code), "' is not an ISO 4217 currency code"));
    }
  }

  // A non-negative amount of at most kMaxMoneyUnits in a known currency.
  void Money(absl::string_view sub, const v1::Money& m) {
    const auto path = [&](absl::string_view leaf) {
      return sub.empty() ? std::string(leaf) : absl::StrCat(sub, ".", leaf);
    };
    if (m.currency_code().empty() || !common::IsIso4217(m.currency_code())) {
      Currency(path("currency_code"), m.currency_code());
    }
    if (m.nanos() <= -1'000'000'000 || m.nanos() >= 1'000'000'000) {
      Fail(path("nanos"), absl::StrFormat("%d is not in -999999999..999999999", m.nanos()));
    } else if ((m.units() > 0 && m.nanos() < 0) || (m.units() < 0 && m.nanos() > 0)) {
      Fail(path("nanos"),
           absl::StrFormat("%d has the opposite sign of units (%d)", m.nanos(), m.units()));
    } else if (m.units() < 0 || m.nanos() < 0) {
      Fail(sub, "must be non-negative");
    } else if (m.units() > kMaxMoneyUnits || (m.units() == kMaxMoneyUnits && m.nanos() > 0)) {
      Fail(path("units"),
           absl::StrFormat("%d exceeds the limit of %d units", m.units(), kMaxMoneyUnits));
    }
  }

  void Date(absl::string_view sub, const v1::EffectiveDate& date) {
    if (!ok()) return;
    status_ = CheckEffectiveDate(date, FieldPath(FieldPath(base_, "."), sub));
  }

  // Parts per million, 0..1,000,000.
  void Ppm(absl::string_view sub, int64_t ppm) {
    if (ppm < 0 || ppm > kMaxPpm) {
      Fail(sub, absl::StrFormat("%d is not in 0..1000000 parts per million", ppm));
    }
  }

 private:
  void Count(absl::string_view sub, int n, int max) {
    if (n > max) Fail(sub, absl::StrFormat("%d entries exceed the limit of %d", n, max));
  }

  template <typename List>
  void Unique(absl::string_view sub, const List& list) {
    if (!ok() || list.size() < 2) return;
    absl::flat_hash_set<absl::string_view> seen;
    for (int i = 0; i < list.size(); ++i) {
      if (!seen.insert(list[i]).second) {
        FailAt(sub, i, absl::StrCat("'", Clip(list[i]), "' is a duplicate"));
      }
    }
  }

  static std::string IdError(const std::string& id, bool required) {
    if (id.empty()) return required ? "is required" : "";
    if (IsDomainId(id)) return "";
    return absl::StrCat("'", Clip(id),
                        "' is not an id: 1..100 bytes of a-z, 0-9 and '-', starting and ending "
                        "with a letter or digit");
  }

  static std::string TextError(const std::string& s, size_t min, size_t max) {
    if (s.size() < min) return absl::StrFormat("is required (%d..%d bytes)", min, max);
    if (s.size() > max) return absl::StrFormat("%d bytes exceed the limit of %d", s.size(), max);
    return "";
  }

  FieldPath base_;
  absl::Status status_;
};

}  // namespace

bool IsDomainId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxDomainIdBytes) return false;
  for (const char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return id.front() != '-' && id.back() != '-';
}

absl::Status ValidateStreamName(absl::string_view stream, absl::string_view field) {
  if (stream.empty()) return Invalid(field, "is required");
  if (stream.size() > kMaxStreamBytes) {
    return Invalid(
        field, absl::StrFormat("%d bytes exceed the limit of %d", stream.size(), kMaxStreamBytes));
  }
  for (const char c : stream) {
    if (c < 0x21 || c > 0x7e) {
      return Invalid(field, "must be printable ASCII without spaces (0x21..0x7E)");
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckDate(const v1::Date& d, const FieldPath& field) {
  if (d.year() == 0 && d.month() == 0 && d.day() == 0) return absl::OkStatus();
  if (d.year() < 1 || d.year() > 9999) {
    return Invalid(FieldPath(field, ".year"), absl::StrFormat("%d is not in 1..9999", d.year()));
  }
  if (d.month() < 0 || d.month() > 12) {
    return Invalid(FieldPath(field, ".month"), absl::StrFormat("%d is not a month", d.month()));
  }
  if (d.day() != 0) {
    if (d.month() == 0) return Invalid(FieldPath(field, ".day"), "is set but month is not");
    if (d.day() < 1 || d.day() > common::DaysInMonth(d.year(), d.month())) {
      return Invalid(FieldPath(field, ".day"),
                     absl::StrFormat("%04d-%02d has no day %d", d.year(), d.month(), d.day()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEffectiveDate(const v1::EffectiveDate& e, const FieldPath& field) {
  const FieldPath date_field(field, ".date");
  const v1::Date& d = e.date();
  if (absl::Status s = CheckDate(d, date_field); !s.ok()) return s;
  if (d.year() == 0) return Invalid(FieldPath(date_field, ".year"), "is required");
  switch (e.precision()) {
    case v1::DATE_PRECISION_DAY:
      if (d.month() == 0 || d.day() == 0) {
        return Invalid(date_field, "a DAY precision date needs year, month and day");
      }
      break;
    case v1::DATE_PRECISION_MONTH:
      if (d.month() == 0 || d.day() != 0) {
        return Invalid(date_field, "a MONTH precision date needs year and month, and day 0");
      }
      break;
    case v1::DATE_PRECISION_QUARTER:
      if (d.day() != 0 || (d.month() != 1 && d.month() != 4 && d.month() != 7 && d.month() != 10)) {
        return Invalid(date_field,
                       "a QUARTER precision date needs month 1, 4, 7 or 10 (the quarter's "
                       "first month) and day 0");
      }
      break;
    case v1::DATE_PRECISION_YEAR:
      if (d.month() != 0 || d.day() != 0) {
        return Invalid(date_field, "a YEAR precision date needs month and day 0");
      }
      break;
    default:
      return Invalid(FieldPath(field, ".precision"), "is required");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDate(const v1::Date& d, absl::string_view field) {
  return CheckDate(d, FieldPath(field));
}

absl::Status ValidateEffectiveDate(const v1::EffectiveDate& e, absl::string_view field) {
  return CheckEffectiveDate(e, FieldPath(field));
}

absl::Status ValidateEnvelope(const v1::Event& e, absl::string_view field_view) {
  const FieldPath field(field_view);
  if (!common::IsCanonicalUuid(e.event_id())) {
    return Invalid(FieldPath(field, ".event_id"),
                   absl::StrCat("'", e.event_id().substr(0, 64),
                                "' is not a canonical lower-case UUID (8-4-4-4-12 hex digits, "
                                "not the nil UUID)"));
  }
  if (e.stream_version() != 0) {
    return Invalid(FieldPath(field, ".stream_version"), "is set by the server; leave it 0");
  }
  if (e.position() != 0) {
    return Invalid(FieldPath(field, ".position"), "is set by the server; leave it 0");
  }
  if (e.has_recorded_time()) {
    return Invalid(FieldPath(field, ".recorded_time"), "is set by the server; leave it empty");
  }
  if (!e.recorded_by().empty()) {
    return Invalid(FieldPath(field, ".recorded_by"), "is set by the server; leave it empty");
  }
  const FieldPath effective(field, ".effective");
  if (!e.has_effective()) return Invalid(effective, "is required");
  if (absl::Status s = CheckEffectiveDate(e.effective(), effective); !s.ok()) return s;
  if (e.confidence() == v1::CONFIDENCE_UNSPECIFIED || !v1::Confidence_IsValid(e.confidence())) {
    return Invalid(FieldPath(field, ".confidence"), "is required");
  }
  if (e.sources_size() > kMaxSources) {
    return Invalid(
        FieldPath(field, ".sources"),
        absl::StrFormat("%d sources exceed the limit of %d", e.sources_size(), kMaxSources));
  }
  for (int i = 0; i < e.sources_size(); ++i) {
    const v1::Source& s = e.sources(i);
    const FieldPath f(field, ".sources", i);
    if (s.publisher().empty() || s.publisher().size() > kMaxPublisherBytes) {
      return Invalid(FieldPath(f, ".publisher"), "must be 1..200 bytes");
    }
    if (!s.url().empty() &&
        (s.url().size() > kMaxUrlBytes ||
         !(absl::StartsWith(s.url(), "https://") || absl::StartsWith(s.url(), "http://")))) {
      return Invalid(FieldPath(f, ".url"),
                     "must be an absolute http(s) URL of at most 2048 bytes, or empty");
    }
    if (s.title().size() > kMaxTitleBytes) {
      return Invalid(FieldPath(f, ".title"), "must be at most 500 bytes");
    }
    if (absl::Status st = CheckDate(s.published_date(), FieldPath(f, ".published_date"));
        !st.ok()) {
      return st;
    }
  }
  return CheckPayload(e.payload(), FieldPath(field, ".payload"));
}

absl::Status ValidateMoney(const v1::Money& m, absl::string_view field) {
  PayloadChecker c(field);
  c.Money("", m);
  return c.status();
}

absl::Status ValidatePayload(const v1::EventPayload& p, absl::string_view field) {
  return CheckPayload(p, FieldPath(field));
}

namespace {

absl::Status CheckPayload(const v1::EventPayload& p, const FieldPath& field) {
  if (p.payload_case() == v1::EventPayload::PAYLOAD_NOT_SET) {
    return Invalid(field, "is required (one domain event)");
  }
  PayloadChecker c(FieldPath(FieldPath(field, "."), common::PayloadCaseName(p)));
  switch (p.payload_case()) {
    case v1::EventPayload::kOrganizationRegistered: {
      const v1::OrganizationRegistered& e = p.organization_registered();
      c.Id("org_id", e.org_id());
      c.Text("name", e.name(), 1, kMaxNameBytes);
      c.Enum("kind", e.kind(), v1::OrganizationKind_IsValid);
      c.Id("parent_org_id", e.parent_org_id(), kOptional);
      c.Distinct("parent_org_id", e.parent_org_id(), e.org_id(), "org_id");
      c.Sectors("sectors", e.sectors());
      c.Texts("aliases", e.aliases(), kMaxAliases);
      if (e.has_founded()) c.Date("founded", e.founded());
      c.Text("description", e.description(), 0, kMaxDescriptionBytes);
      c.Url("website", e.website());
      break;
    }
    case v1::EventPayload::kOrganizationUpdated: {
      const v1::OrganizationUpdated& e = p.organization_updated();
      c.Id("org_id", e.org_id());
      if (!e.has_name() && !e.has_kind() && !e.has_parent_org_id() && !e.replace_sectors() &&
          e.add_aliases().empty() && e.remove_aliases().empty() && !e.has_founded() &&
          !e.has_description() && !e.has_website()) {
        c.Fail("", "changes nothing; set at least one field to change");
      }
      if (e.has_name()) c.Text("name", e.name(), 1, kMaxNameBytes);
      if (e.has_kind()) c.Enum("kind", e.kind(), v1::OrganizationKind_IsValid);
      if (e.has_parent_org_id()) {
        c.Id("parent_org_id", e.parent_org_id(), kOptional);
        c.Distinct("parent_org_id", e.parent_org_id(), e.org_id(), "org_id");
      }
      if (!e.replace_sectors() && !e.sectors().empty()) {
        c.Fail("sectors", "must be empty unless replace_sectors is true");
      }
      c.Sectors("sectors", e.sectors());
      c.Texts("add_aliases", e.add_aliases(), kMaxAliases);
      c.Texts("remove_aliases", e.remove_aliases(), kMaxAliases);
      for (const std::string& alias : e.remove_aliases()) {
        for (const std::string& added : e.add_aliases()) {
          if (alias == added) {
            c.Fail("remove_aliases", absl::StrCat("'", Clip(alias),
                                                  "' is also in add_aliases; an alias may not "
                                                  "be both added and removed"));
          }
        }
      }
      if (e.has_founded()) c.Date("founded", e.founded());
      if (e.has_description()) c.Text("description", e.description(), 0, kMaxDescriptionBytes);
      if (e.has_website()) c.Url("website", e.website());
      break;
    }
    case v1::EventPayload::kFundingRoundReported: {
      const v1::FundingRoundReported& e = p.funding_round_reported();
      c.Id("round_id", e.round_id());
      c.Id("company_id", e.company_id());
      c.Label("label", e.label());
      if (e.has_target_amount()) c.Money("target_amount", e.target_amount());
      if (e.has_pre_money_valuation()) c.Money("pre_money_valuation", e.pre_money_valuation());
      if (e.has_post_money_valuation()) c.Money("post_money_valuation", e.post_money_valuation());
      if (e.has_pre_money_valuation() && e.has_post_money_valuation()) {
        const v1::Money& pre = e.pre_money_valuation();
        const v1::Money& post = e.post_money_valuation();
        if (pre.currency_code() != post.currency_code()) {
          c.Fail("post_money_valuation.currency_code",
                 absl::StrCat("'", Clip(post.currency_code()),
                              "' differs from pre_money_valuation's '", Clip(pre.currency_code()),
                              "'"));
        } else if (std::pair(post.units(), post.nanos()) < std::pair(pre.units(), pre.nanos())) {
          c.Fail("post_money_valuation", "is less than pre_money_valuation");
        }
      }
      if (e.has_expected_close()) c.Date("expected_close", e.expected_close());
      c.Ids("lead_investor_ids", e.lead_investor_ids(), kMaxLeadInvestors);
      c.Enum("stage", e.stage(), v1::DealStage_IsValid);
      c.Enum("target_amount_bound", e.target_amount_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kInvestmentReported: {
      const v1::InvestmentReported& e = p.investment_reported();
      c.Id("investment_id", e.investment_id());
      c.Id("round_id", e.round_id(), kOptional);
      c.Distinct("round_id", e.round_id(), e.investment_id(), "investment_id");
      c.Id("investor_id", e.investor_id());
      c.Id("company_id", e.company_id());
      c.Distinct("investor_id", e.investor_id(), e.company_id(), "company_id");
      if (e.has_amount()) c.Money("amount", e.amount());
      c.Enum("instrument", e.instrument(), v1::Instrument_IsValid);
      c.Enum("stage", e.stage(), v1::DealStage_IsValid);
      if (e.has_expected_close()) c.Date("expected_close", e.expected_close());
      c.Enum("amount_bound", e.amount_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kDealStageChanged: {
      const v1::DealStageChanged& e = p.deal_stage_changed();
      c.Id("deal_id", e.deal_id());
      c.Enum("new_stage", e.new_stage(), v1::DealStage_IsValid);
      if (e.has_amount()) c.Money("amount", e.amount());
      c.Text("reason", e.reason(), 0, kMaxDescriptionBytes);
      if (e.has_expected_close()) c.Date("expected_close", e.expected_close());
      c.Enum("amount_bound", e.amount_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kValuationReported: {
      const v1::ValuationReported& e = p.valuation_reported();
      c.Id("company_id", e.company_id());
      if (!e.has_valuation()) c.Fail("valuation", "is required");
      c.Money("valuation", e.valuation());
      c.Enum("basis", e.basis(), v1::ValuationBasis_IsValid);
      c.Id("round_id", e.round_id(), kOptional);
      c.Enum("valuation_bound", e.valuation_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kStakeDisclosed: {
      const v1::StakeDisclosed& e = p.stake_disclosed();
      c.Id("holder_id", e.holder_id());
      c.Id("company_id", e.company_id());
      c.Distinct("holder_id", e.holder_id(), e.company_id(), "company_id");
      if (!e.has_ownership()) c.Fail("ownership", "is required");
      const v1::OwnershipFraction& o = e.ownership();
      switch (o.value_case()) {
        case v1::OwnershipFraction::kExact:
          c.Ppm("ownership.exact.parts_per_million", o.exact().parts_per_million());
          break;
        case v1::OwnershipFraction::kRange:
          c.Ppm("ownership.range.min_parts_per_million", o.range().min_parts_per_million());
          c.Ppm("ownership.range.max_parts_per_million", o.range().max_parts_per_million());
          if (o.range().min_parts_per_million() > o.range().max_parts_per_million()) {
            c.Fail("ownership.range", "min_parts_per_million exceeds max_parts_per_million");
          }
          break;
        case v1::OwnershipFraction::VALUE_NOT_SET:
          if (o.qualifier().empty()) {
            c.Fail("ownership", "needs a value (exact or range) or a qualifier");
          }
          break;
      }
      c.Text("ownership.qualifier", o.qualifier(), 0, kMaxNameBytes);
      break;
    }
    case v1::EventPayload::kAcquisitionReported: {
      const v1::AcquisitionReported& e = p.acquisition_reported();
      c.Id("acquisition_id", e.acquisition_id());
      c.Id("acquirer_id", e.acquirer_id());
      c.Id("target_id", e.target_id());
      c.Distinct("target_id", e.target_id(), e.acquirer_id(), "acquirer_id");
      if (e.has_price()) c.Money("price", e.price());
      c.Enum("stage", e.stage(), v1::DealStage_IsValid);
      if (e.has_expected_close()) c.Date("expected_close", e.expected_close());
      c.Enum("price_bound", e.price_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kPartnershipFormed: {
      const v1::PartnershipFormed& e = p.partnership_formed();
      c.Id("partnership_id", e.partnership_id());
      if (e.parties_size() < 2 || e.parties_size() > kMaxParties) {
        c.Fail("parties", absl::StrFormat("has %d entries; a partnership has 2..%d",
                                          e.parties_size(), kMaxParties));
      }
      absl::flat_hash_set<absl::string_view> orgs;
      absl::flat_hash_set<std::pair<absl::string_view, int>> pairs;
      for (int i = 0; i < e.parties_size(); ++i) {
        const v1::PartnershipParty& party = e.parties(i);
        const std::string f = absl::StrCat("parties[", i, "]");
        c.Id(absl::StrCat(f, ".org_id"), party.org_id());
        c.Enum(absl::StrCat(f, ".role"), party.role(), v1::PartnershipRole_IsValid);
        orgs.insert(party.org_id());
        if (!pairs.insert({party.org_id(), party.role()}).second) {
          c.Fail(f, absl::StrCat("repeats the org_id '", Clip(party.org_id()), "' with role ",
                                 v1::PartnershipRole_Name(party.role())));
        }
      }
      if (orgs.size() < 2) c.Fail("parties", "must name at least two distinct organizations");
      if (e.has_value()) c.Money("value", e.value());
      c.Text("description", e.description(), 0, kMaxDescriptionBytes);
      c.Enum("value_bound", e.value_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kPartnershipEnded:
      c.Id("partnership_id", p.partnership_ended().partnership_id());
      c.Text("reason", p.partnership_ended().reason(), 0, kMaxDescriptionBytes);
      break;
    case v1::EventPayload::kFacilityAnnounced: {
      const v1::FacilityAnnounced& e = p.facility_announced();
      c.Id("facility_id", e.facility_id());
      c.Id("owner_id", e.owner_id());
      c.Id("beneficiary_id", e.beneficiary_id(), kOptional);
      c.Text("location", e.location(), 1, kMaxNameBytes);
      if (e.has_amount()) c.Money("amount", e.amount());
      c.Text("purpose", e.purpose(), 0, kMaxDescriptionBytes);
      if (e.has_expected_completion()) c.Date("expected_completion", e.expected_completion());
      c.Enum("amount_bound", e.amount_bound(), v1::AmountBound_IsValid, kOptional);
      break;
    }
    case v1::EventPayload::kFxRateReported: {
      const v1::FxRateReported& e = p.fx_rate_reported();
      c.Currency("base_currency", e.base_currency());
      c.Currency("quote_currency", e.quote_currency());
      if (e.base_currency() == e.quote_currency()) {
        c.Fail("quote_currency", "must differ from base_currency");
      }
      if (!e.has_rate()) c.Fail("rate", "is required");
      c.Money("rate", e.rate());
      if (e.rate().units() == 0 && e.rate().nanos() == 0) {
        c.Fail("rate", "must be strictly positive");
      }
      if (e.rate().currency_code() != e.quote_currency()) {
        c.Fail("rate.currency_code",
               absl::StrCat("'", Clip(e.rate().currency_code()), "' must equal quote_currency '",
                            Clip(e.quote_currency()), "'"));
      }
      break;
    }
    case v1::EventPayload::kEventRetracted:
      c.EventId("event_id", p.event_retracted().event_id());
      c.Text("reason", p.event_retracted().reason(), 0, kMaxDescriptionBytes);
      break;
    case v1::EventPayload::kEventCorrected: {
      const v1::EventCorrected& e = p.event_corrected();
      c.EventId("event_id", e.event_id());
      c.Text("reason", e.reason(), 0, kMaxDescriptionBytes);
      const auto inner = e.replacement().payload_case();
      if (inner == v1::EventPayload::kEventRetracted ||
          inner == v1::EventPayload::kEventCorrected) {
        c.Fail("replacement", "may not be an EventRetracted or EventCorrected");
      }
      if (!c.ok()) break;
      return CheckPayload(e.replacement(), FieldPath(c.base(), ".replacement"));
    }
    case v1::EventPayload::PAYLOAD_NOT_SET:
      break;
  }
  return c.status();
}

}  // namespace

}  // namespace dealwire::domain
