#include "bench/synthetic_events.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/calendar.h"
#include "common/uuid.h"

namespace dealwire::bench {
namespace {

namespace v1 = dealwire::v1;
using Case = v1::EventPayload::PayloadCase;

constexpr uint32_t kNone = UINT32_MAX;

// Bounds of the fixed-size pools (see the header's note on memory).
constexpr size_t kMaxOpenDeals = size_t{1} << 16;
constexpr size_t kMaxActivePartnerships = size_t{1} << 15;
constexpr size_t kMaxClaims = 4096;

// Registrations happen during the first 70 % of the events, after a
// bootstrap of this many.
constexpr size_t kBootstrapOrgs = 16;

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

constexpr std::string_view kSectors[] = {
    "ai-foundation-models",
    "cloud-infrastructure",
    "semiconductors",
    "e-commerce",
    "fintech",
    "biotech",
    "healthcare",
    "cybersecurity",
    "enterprise-software",
    "developer-tools",
    "robotics",
    "autonomous-vehicles",
    "climate-tech",
    "energy",
    "space",
    "gaming",
    "media",
    "social-media",
    "edtech",
    "logistics",
    "agritech",
    "quantum-computing",
    "data-infrastructure",
    "consumer-hardware",
    "insurtech",
};
constexpr size_t kSectorCount = std::size(kSectors);

constexpr std::string_view kStemA[] = {
    "nova",  "quant", "helio", "arc",  "lumen", "vector", "orbit",  "cobalt", "zephyr", "atlas",
    "tera",  "pixel", "aero",  "bio",  "cyber", "data",   "echo",   "flux",   "gen",    "hyper",
    "ion",   "kite",  "loop",  "mosa", "neur",  "omni",   "prism",  "quill",  "radi",   "sigma",
    "tidal", "umbra", "vivid", "xeno", "zen",   "astra",  "boreal", "cirro",  "delta",  "ember",
};
constexpr std::string_view kStemB[] = {
    "byte",  "forge", "mind",  "scale", "stack", "works", "grid", "path", "core", "wave",
    "logic", "shift", "sense", "cloud", "spark", "gen",   "bio",  "flow", "ware", "link",
};
constexpr std::string_view kCompanySuffix[] = {
    "labs",     "ai",       "systems",   "robotics",     "health",   "energy",   "technologies",
    "networks", "dynamics", "analytics", "therapeutics", "security", "software", "devices",
};
constexpr std::string_view kInvestorSuffix[] = {
    "capital", "ventures", "partners", "investments", "holdings", "equity", "growth",
};
constexpr std::string_view kFundSuffix[] = {"fund"};
constexpr std::string_view kSovereignSuffix[] = {"authority"};
constexpr std::string_view kRoman[] = {"I", "II", "III", "IV", "V", "VI", "VII", "VIII"};

// Round labels: codes 0..10 follow each other per company; 11..13 may repeat.
constexpr std::string_view kLabels[] = {
    "pre_seed", "seed",     "series_a", "series_b", "series_c",   "series_d", "series_e",
    "series_f", "series_g", "series_h", "series_i", "late_stage", "bridge",   "strategic",
};
constexpr uint8_t kSequencedLabels = 11;
constexpr uint8_t kLateStage = 11;
constexpr uint8_t kBridge = 12;
constexpr uint8_t kStrategic = 13;
// Round sizes by label code, in thousands of US dollars: [min, max].
constexpr int64_t kRoundSizeK[][2] = {
    {300, 3'000},         {1'000, 8'000},       {5'000, 25'000},      {15'000, 70'000},
    {30'000, 150'000},    {50'000, 300'000},    {100'000, 600'000},   {100'000, 800'000},
    {150'000, 1'000'000}, {200'000, 1'500'000}, {200'000, 2'000'000}, {200'000, 10'000'000},
    {1'000, 50'000},      {50'000, 5'000'000},
};

// Valuations and prices stop growing at $2T (in yen that is 3e14 units, well
// under the 1e15 units the contract accepts).
constexpr int64_t kMaxValuationK = 2'000'000'000;

struct CurrencyInfo {
  std::string_view code;
  int64_t per_100_usd;  // units of the currency worth 100 US dollars
};
constexpr CurrencyInfo kCurrencies[] = {{"USD", 100}, {"EUR", 92}, {"GBP", 79}, {"JPY", 15000}};
constexpr uint8_t kUsd = 0;

struct FxPair {
  uint8_t base;
  uint8_t quote;
  int64_t start_nanos;  // the rate at the start, in 1e-9 units of the quote
};
constexpr FxPair kFxPairs[] = {
    {1, 0, 1'090'000'000},    // EUR-USD
    {2, 0, 1'270'000'000},    // GBP-USD
    {0, 3, 121'000'000'000},  // USD-JPY
    {1, 2, 860'000'000},      // EUR-GBP
    {1, 3, 131'000'000'000},  // EUR-JPY
};

struct Publisher {
  std::string_view name;
  std::string_view domain;
};
constexpr Publisher kPublishers[] = {
    {"Reuters", "www.reuters.com"},
    {"Bloomberg", "www.bloomberg.com"},
    {"TechCrunch", "techcrunch.com"},
    {"The Information", "www.theinformation.com"},
    {"Financial Times", "www.ft.com"},
    {"The Wall Street Journal", "www.wsj.com"},
    {"CNBC", "www.cnbc.com"},
    {"Axios", "www.axios.com"},
    {"PitchBook", "pitchbook.com"},
    {"Business Wire", "www.businesswire.com"},
    {"PR Newswire", "www.prnewswire.com"},
    {"SEC EDGAR", "www.sec.gov"},
};

struct City {
  std::string_view location;
  std::string_view slug;
};
constexpr City kCities[] = {
    {"Ashburn, Virginia, US", "ashburn"},
    {"New Albany, Ohio, US", "new-albany"},
    {"Council Bluffs, Iowa, US", "council-bluffs"},
    {"The Dalles, Oregon, US", "the-dalles"},
    {"Abilene, Texas, US", "abilene"},
    {"Quincy, Washington, US", "quincy"},
    {"Mesa, Arizona, US", "mesa"},
    {"New Carlisle, Indiana, US", "new-carlisle"},
    {"Dublin, IE", "dublin"},
    {"Frankfurt, DE", "frankfurt"},
    {"Hamina, FI", "hamina"},
    {"Slough, GB", "slough"},
    {"Inzai, Chiba, JP", "inzai"},
    {"Singapore, SG", "singapore"},
    {"Mumbai, IN", "mumbai"},
    {"Sao Paulo, BR", "sao-paulo"},
    {"Johor, MY", "johor"},
    {"Hsinchu, TW", "hsinchu"},
    {"Dresden, DE", "dresden"},
};

constexpr std::string_view kFacilityPurposes[] = {
    "AI training cluster", "run AI inference for customers",     "general-purpose cloud region",
    "chip fabrication",    "advanced packaging of accelerators", "battery cell manufacturing",
    "research campus",
};

constexpr std::string_view kStakeQualifiers[] = {
    "minority", "substantial", "significant", "controlling", "small", "majority",
};

constexpr std::string_view kCollapseReasons[] = {
    "talks ended without agreement",
    "regulators objected",
    "terms could not be agreed",
    "financing fell through",
};
constexpr std::string_view kForwardReasons[] = {
    "",  // a stage change often states no reason
    "people familiar with the matter",
    "term sheet signed",
    "definitive agreement signed",
    "announced by the company",
    "closing confirmed in a filing",
};
constexpr std::string_view kRetractReasons[] = {
    "report denied by both parties",
    "source retracted the story",
    "duplicate of an earlier report",
    "misattributed to the wrong company",
};
constexpr std::string_view kCorrectReasons[] = {
    "amount was misreported",
    "figure was in another currency",
    "stake was misreported",
    "source published a correction",
};
constexpr std::string_view kEndReasons[] = {
    "",
    "contract expired",
    "partners moved to a competitor",
    "agreement terminated by mutual consent",
};

// ---------------------------------------------------------------------------
// Random numbers: std::mt19937_64 bits (standardized), our own mapping to
// ranges (the std distributions differ between standard libraries).
// ---------------------------------------------------------------------------

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Bits() { return engine_(); }

  // Uniform in [0, n), unbiased (Lemire's multiply-and-reject). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(engine_()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(engine_()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability `percent` / 100.
  bool Chance(uint32_t percent) { return Below(100) < percent; }

  // Picks index i with probability weights[i] / (sum of the weights).
  template <size_t N>
  size_t Weighted(const uint32_t (&weights)[N]) {
    uint64_t total = 0;
    for (uint32_t w : weights) total += w;
    uint64_t r = Below(total);
    for (size_t i = 0; i < N; ++i) {
      if (r < weights[i]) return i;
      r -= weights[i];
    }
    return N - 1;
  }

  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------
// Dates, as day numbers (common/calendar.h)
// ---------------------------------------------------------------------------

struct Civil {
  int32_t year;
  int32_t month;
  int32_t day;
};

Civil CivilFromDays(int64_t n) {
  const absl::CivilDay d = common::CivilDayOf(n);
  return {static_cast<int32_t>(d.year()), d.month(), d.day()};
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  return common::DayNumber(y, static_cast<int>(m), static_cast<int>(d));
}

const int64_t kFirstDay = DaysFromCivil(2015, 1, 1);
const int64_t kLastDay = DaysFromCivil(2026, 12, 31);

void SetDate(const Civil& c, v1::DatePrecision precision, v1::Date* out) {
  out->set_year(c.year);
  switch (precision) {
    case v1::DATE_PRECISION_DAY:
      out->set_month(c.month);
      out->set_day(c.day);
      break;
    case v1::DATE_PRECISION_MONTH:
      out->set_month(c.month);
      break;
    case v1::DATE_PRECISION_QUARTER:
      out->set_month((c.month - 1) / 3 * 3 + 1);
      break;
    default:
      break;
  }
}

void SetEffective(int64_t day, v1::DatePrecision precision, v1::EffectiveDate* out) {
  SetDate(CivilFromDays(day), precision, out->mutable_date());
  out->set_precision(precision);
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

void AppendBase36(uint64_t n, std::string* out) {
  char buf[16];
  size_t len = 0;
  do {
    const uint64_t digit = n % 36;
    buf[len++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + (digit - 10));
    n /= 36;
  } while (n != 0);
  while (len > 0) out->push_back(buf[--len]);
}

void AppendCapitalized(std::string_view word, std::string* out) {
  if (word.empty()) return;
  out->push_back(static_cast<char>(word[0] - 'a' + 'A'));
  out->append(word.substr(1));
}

void AppendSlug(std::string_view text, std::string* out) {
  bool dash = false;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (dash && !out->empty() && out->back() != '/') out->push_back('-');
      dash = false;
      out->push_back(c);
    } else {
      dash = true;
    }
  }
}

// "$12.5M", "EUR 1.2B": an amount for a headline.
void AppendHeadlineAmount(const v1::Money& money, std::string* out) {
  const int64_t units = money.units();
  if (money.currency_code() == "USD") {
    out->push_back('$');
  } else {
    out->append(money.currency_code());
    out->push_back(' ');
  }
  struct Scale {
    int64_t divisor;
    char suffix;
  };
  constexpr Scale kScales[] = {
      {1'000'000'000'000, 'T'}, {1'000'000'000, 'B'}, {1'000'000, 'M'}, {1'000, 'K'}};
  for (const Scale& s : kScales) {
    if (units >= s.divisor) {
      const int64_t tenths = units * 10 / s.divisor;
      out->append(std::to_string(tenths / 10));
      if (tenths % 10 != 0) {
        out->push_back('.');
        out->append(std::to_string(tenths % 10));
      }
      out->push_back(s.suffix);
      return;
    }
  }
  out->append(std::to_string(units));
}

// Rounds down to three significant digits: amounts as the press states them.
int64_t Round3(int64_t x) {
  int64_t scale = 1;
  while (x / scale >= 1000) scale *= 10;
  return x / scale * scale;
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

enum class OrgType : uint8_t { kCompany, kInvestor, kFund, kSovereign };

struct Org {
  OrgType type;
  v1::OrganizationKind kind;
  uint8_t stem_a;
  uint8_t stem_b;
  uint8_t suffix;
  uint8_t roman;
  uint32_t company_slot;  // index into companies_, or kNone
};

struct Company {
  uint32_t org;
  uint32_t rounds;     // rounds reported so far (round k is the k-th)
  uint8_t next_label;  // next sequenced label code (0..10; 11 once past series_i)
  uint8_t last_label;  // label code of round rounds-1
  uint8_t currency;
  int64_t valuation;  // last known valuation in `currency` units; 0 when none
};

enum class DealKind : uint8_t { kRound, kInvestment, kAcquisition };

struct Deal {
  uint64_t number;   // investments and acquisitions: the number in the id
  uint32_t company;  // org: the round's company, the investee, the target
  uint32_t other;    // org: the investor, the acquirer; kNone for rounds
  uint32_t round_k;  // rounds: k; investments: the round's k or kNone
  DealKind kind;
  uint8_t stage;  // v1::DealStage, open
  uint8_t label;  // rounds and investments in a round: the round's label code
  uint8_t currency;
  uint8_t instrument;
};

struct Partnership {
  uint32_t a;
  uint32_t b;
  uint64_t number;
};

// A claim that may later be retracted or corrected.
struct Claim {
  uint64_t id_hi;
  uint64_t id_lo;
  Case payload_case;  // kValuationReported, kStakeDisclosed or kFacilityAnnounced
  uint32_t company;   // valuation and stake: the company org; facility: the owner org
  uint32_t other;     // stake: the holder org; facility: the city
  uint64_t number;    // facility: its number
  int64_t day;        // the effective day of the original
  uint8_t currency;
};

}  // namespace

// ---------------------------------------------------------------------------
// Impl
// ---------------------------------------------------------------------------

class SyntheticEvents::Impl {
 public:
  explicit Impl(const SyntheticOptions& options) : options_(options), rng_(options.seed) {
    size_t companies = std::max<size_t>(options.companies, 2);
    size_t investors = std::max<size_t>(options.investors, 1);
    const size_t cap = options.events / 4;
    if (companies + investors > cap) {
      const size_t total = companies + investors;
      companies = std::max<size_t>(2, companies * cap / total);
      investors = std::max<size_t>(1, investors * cap / total);
    }
    planned_companies_ = companies;
    planned_investors_ = investors;
    for (size_t i = 0; i < std::size(kFxPairs); ++i) fx_nanos_[i] = kFxPairs[i].start_nanos;
  }

  bool Next(v1::Event* out) {
    if (generated_ >= options_.events) return false;
    out->Clear();
    day_ = ClockDay();
    if (RegistrationDue() || companies_.size() < 2 || investors_.empty()) {
      Register(out);
    } else {
      GenerateOther(out);
    }
    ++counts_[out->payload().payload_case()];
    ++generated_;
    return true;
  }

  size_t generated() const { return generated_; }
  uint64_t count(Case c) const {
    return static_cast<size_t>(c) < kCaseSlots ? counts_[static_cast<size_t>(c)] : 0;
  }
  size_t planned_companies() const { return planned_companies_; }
  size_t planned_investors() const { return planned_investors_; }

 private:
  // ----- clock and envelope ------------------------------------------------

  // The day the next event happens: it moves from 2015 to 2026 with the
  // generation order, with some jitter.
  int64_t ClockDay() {
    const auto span = static_cast<unsigned __int128>(kLastDay - kFirstDay);
    const int64_t base =
        kFirstDay + static_cast<int64_t>(span * generated_ / std::max<size_t>(options_.events, 1));
    return std::clamp<int64_t>(base + rng_.Range(-20, 20), kFirstDay, kLastDay);
  }

  // About 5 % of claims are reported late: they happened well before the
  // claims around them.
  int64_t ClaimDay() {
    if (rng_.Chance(5)) return std::max(kFirstDay, day_ - rng_.Range(60, 1200));
    return day_;
  }

  v1::DatePrecision RandomPrecision() {
    static constexpr uint32_t kWeights[] = {45, 30, 15, 10};
    return static_cast<v1::DatePrecision>(v1::DATE_PRECISION_DAY + rng_.Weighted(kWeights));
  }

  v1::Confidence RandomConfidence() {
    static constexpr uint32_t kWeights[] = {12, 40, 20, 28};
    return static_cast<v1::Confidence>(v1::CONFIDENCE_RUMORED + rng_.Weighted(kWeights));
  }

  // Writes a fresh UUID (version 4 shape) into `out` and returns its halves.
  std::pair<uint64_t, uint64_t> NewEventId(std::string* out) {
    const uint64_t hi = rng_.Bits();
    return common::FormatUuidV4(hi, rng_.Bits(), out);
  }

  // Fills the envelope: id, stream "<kind>/<id>", effective date (at a random
  // precision unless `precision` is given), confidence. Returns the event
  // id's halves.
  std::pair<uint64_t, uint64_t> Envelope(
      v1::Event* e, std::string_view stream_kind, std::string_view id, int64_t day,
      v1::Confidence confidence, v1::DatePrecision precision = v1::DATE_PRECISION_UNSPECIFIED) {
    if (precision == v1::DATE_PRECISION_UNSPECIFIED) precision = RandomPrecision();
    const auto halves = NewEventId(e->mutable_event_id());
    std::string* stream = e->mutable_stream();
    stream->reserve(stream_kind.size() + 1 + id.size());
    stream->append(stream_kind);
    stream->push_back('/');
    stream->append(id);
    SetEffective(day, precision, e->mutable_effective());
    e->set_confidence(confidence);
    return halves;
  }

  // Adds 0..3 sources with headline `title`, published on or after `day`.
  void AddSources(v1::Event* e, std::string_view title, int64_t day, std::string_view press_org) {
    static constexpr uint32_t kCounts[] = {5, 70, 20, 5};
    size_t n = rng_.Weighted(kCounts);
    if (e->confidence() == v1::CONFIDENCE_OFFICIAL && n == 0) n = 1;
    for (size_t i = 0; i < n; ++i) {
      v1::Source* s = e->add_sources();
      std::string* url = s->mutable_url();
      if (i == 0 && e->confidence() == v1::CONFIDENCE_OFFICIAL && !press_org.empty()) {
        s->mutable_publisher()->append(press_org).append(" press release");
        url->append("https://www.");
        for (char c : press_org) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
          if (c >= 'a' && c <= 'z') url->push_back(c);
        }
        url->append(".com/press/");
      } else {
        const Publisher& p = rng_.Pick(kPublishers);
        s->set_publisher(std::string(p.name));
        url->append("https://").append(p.domain).append("/news/");
      }
      const Civil c = CivilFromDays(day + rng_.Range(0, 10));
      url->append(std::to_string(c.year)).push_back('/');
      AppendSlug(title, url);
      url->push_back('-');
      AppendBase36(++source_number_, url);
      if (!title.empty()) s->set_title(std::string(title));
      if (rng_.Chance(90)) {
        SetDate(c, v1::DATE_PRECISION_DAY, s->mutable_published_date());
      } else {
        SetDate(c, v1::DATE_PRECISION_MONTH, s->mutable_published_date());
      }
    }
  }

  // ----- organizations -------------------------------------------------------

  static std::string_view Suffix(const Org& o) {
    switch (o.type) {
      case OrgType::kCompany:
        return kCompanySuffix[o.suffix];
      case OrgType::kInvestor:
        return kInvestorSuffix[o.suffix];
      case OrgType::kFund:
        return kFundSuffix[0];
      case OrgType::kSovereign:
        return kSovereignSuffix[0];
    }
    return "";
  }

  // "<stemastemb>-<suffix>-<base36 index>": three segments, unique by index.
  void AppendOrgId(uint32_t index, std::string* out) const {
    const Org& o = orgs_[index];
    out->append(kStemA[o.stem_a]).append(kStemB[o.stem_b]).push_back('-');
    out->append(Suffix(o)).push_back('-');
    AppendBase36(index, out);
  }
  std::string OrgId(uint32_t index) const {
    std::string id;
    AppendOrgId(index, &id);
    return id;
  }

  void AppendOrgName(uint32_t index, std::string* out) const {
    const Org& o = orgs_[index];
    AppendCapitalized(kStemA[o.stem_a], out);
    out->append(kStemB[o.stem_b]);
    out->push_back(' ');
    switch (o.type) {
      case OrgType::kCompany:
        if (o.suffix == 1) {
          out->append("AI");
        } else {
          AppendCapitalized(kCompanySuffix[o.suffix], out);
        }
        break;
      case OrgType::kInvestor:
        AppendCapitalized(kInvestorSuffix[o.suffix], out);
        break;
      case OrgType::kFund:
        out->append("Fund ").append(kRoman[o.roman]);
        break;
      case OrgType::kSovereign:
        out->append("Investment Authority");
        break;
    }
  }
  std::string OrgName(uint32_t index) const {
    std::string name;
    AppendOrgName(index, &name);
    return name;
  }

  bool RegistrationDue() const {
    const size_t planned = planned_companies_ + planned_investors_;
    if (orgs_.size() >= planned) return false;
    const size_t bootstrap = std::min(planned, kBootstrapOrgs);
    const size_t window = std::max<size_t>(1, options_.events * 7 / 10);
    const auto due =
        bootstrap + static_cast<size_t>(static_cast<unsigned __int128>(planned - bootstrap) *
                                        generated_ / window);
    return orgs_.size() < std::min(due, planned);
  }

  void AddSectors(size_t n, google::protobuf::RepeatedPtrField<std::string>* out) {
    size_t picked[3];
    for (size_t i = 0; i < n && i < 3; ++i) {
      size_t s = rng_.Below(kSectorCount);
      while (std::find(picked, picked + i, s) != picked + i) s = (s + 1) % kSectorCount;
      picked[i] = s;
      out->Add(std::string(kSectors[s]));
    }
  }

  void Register(v1::Event* e) {
    // Keep the ratio of companies to investors along the way.
    const size_t nc = companies_.size();
    const size_t ni = orgs_.size() - nc;
    const bool company =
        nc < planned_companies_ &&
        (ni >= planned_investors_ || nc * planned_investors_ <= ni * planned_companies_);
    const auto index = static_cast<uint32_t>(orgs_.size());
    Org o{};
    o.stem_a = static_cast<uint8_t>(rng_.Below(std::size(kStemA)));
    o.stem_b = static_cast<uint8_t>(rng_.Below(std::size(kStemB)));
    o.company_slot = kNone;
    uint32_t parent = kNone;
    if (company) {
      o.type = OrgType::kCompany;
      o.kind = rng_.Chance(2) ? v1::ORGANIZATION_KIND_NONPROFIT : v1::ORGANIZATION_KIND_COMPANY;
      o.suffix = static_cast<uint8_t>(rng_.Below(std::size(kCompanySuffix)));
      if (nc > 0 && rng_.Chance(6)) parent = companies_[rng_.Below(nc)].org;
    } else {
      static constexpr uint32_t kTypes[] = {75, 17, 8};
      switch (rng_.Weighted(kTypes)) {
        case 0:
          o.type = OrgType::kInvestor;
          o.kind = v1::ORGANIZATION_KIND_INVESTOR;
          o.suffix = static_cast<uint8_t>(rng_.Below(std::size(kInvestorSuffix)));
          break;
        case 1:
          o.type = OrgType::kFund;
          o.kind = v1::ORGANIZATION_KIND_FUND;
          o.roman = static_cast<uint8_t>(rng_.Below(std::size(kRoman)));
          if (!firms_.empty() && rng_.Chance(60)) parent = firms_[rng_.Below(firms_.size())];
          break;
        default:
          o.type = OrgType::kSovereign;
          o.kind = v1::ORGANIZATION_KIND_SOVEREIGN_FUND;
          break;
      }
    }
    if (company) {
      o.company_slot = static_cast<uint32_t>(companies_.size());
      static constexpr uint32_t kCurrencyWeights[] = {80, 10, 6, 4};
      companies_.push_back(
          Company{index, 0, 0, 0, static_cast<uint8_t>(rng_.Weighted(kCurrencyWeights)), 0});
    } else {
      investors_.push_back(index);
      if (o.type == OrgType::kInvestor) firms_.push_back(index);
    }
    orgs_.push_back(o);

    const std::string id = OrgId(index);
    const std::string name = OrgName(index);
    const int64_t day = ClaimDay();
    const v1::Confidence confidence =
        rng_.Chance(50) ? v1::CONFIDENCE_OFFICIAL : RandomConfidence();
    Envelope(e, "org", id, day, confidence);
    auto* r = e->mutable_payload()->mutable_organization_registered();
    r->set_org_id(id);
    r->set_name(name);
    r->set_kind(o.kind);
    if (parent != kNone) r->set_parent_org_id(OrgId(parent));
    if (company) {
      AddSectors(1 + rng_.Below(3), r->mutable_sectors());
    } else if (rng_.Chance(40)) {
      AddSectors(1 + rng_.Below(2), r->mutable_sectors());
    }
    if (rng_.Chance(30)) r->add_aliases(name + (company ? " Inc." : " LLC"));
    if (rng_.Chance(80)) {
      const Civil now = CivilFromDays(day);
      const int64_t year = rng_.Range(std::min<int64_t>(1990, now.year), now.year);
      const bool by_month = rng_.Chance(30);
      Civil founded{static_cast<int32_t>(year), static_cast<int32_t>(rng_.Range(1, 12)), 1};
      if (year == now.year) founded.month = std::min(founded.month, now.month);
      SetEffective(DaysFromCivil(founded.year, founded.month, 1),
                   by_month ? v1::DATE_PRECISION_MONTH : v1::DATE_PRECISION_YEAR,
                   r->mutable_founded());
    }
    std::string* description = r->mutable_description();
    if (company) {
      description->append(name).append(" works on ");
      for (int i = 0; i < r->sectors_size(); ++i) {
        if (i > 0) description->append(i + 1 == r->sectors_size() ? " and " : ", ");
        for (char c : r->sectors(i)) description->push_back(c == '-' ? ' ' : c);
      }
      description->append(".");
    } else if (o.type == OrgType::kSovereign) {
      description->append("State-owned investment fund.");
    } else if (o.type == OrgType::kFund) {
      description->append("Pooled investment fund.");
    } else {
      description->append("Investment firm.");
    }
    if (rng_.Chance(70)) {
      std::string* website = r->mutable_website();
      website->append("https://www.").append(kStemA[o.stem_a]).append(kStemB[o.stem_b]);
      website->append(Suffix(o)).append(".com");
    }
    AddSources(e, name, day, name);
  }

  // A company, older ones more often. REQUIRES: !companies_.empty().
  Company& PickCompany() {
    const uint64_t n = companies_.size();
    uint64_t i = rng_.Below(n);
    if (rng_.Chance(50)) i = std::min(i, rng_.Below(n));
    return companies_[i];
  }

  // An investing organization (or, 10 %, a company investing strategically)
  // other than `not_org`; kNone when there is none.
  uint32_t PickInvestor(uint32_t not_org) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      uint32_t org;
      if (rng_.Chance(90)) {
        const uint64_t n = investors_.size();
        uint64_t i = rng_.Below(n);
        if (rng_.Chance(50)) i = std::min(i, rng_.Below(n));
        org = investors_[i];
      } else {
        org = PickCompany().org;
      }
      if (org != not_org) return org;
    }
    return kNone;
  }

  // ----- deals -----------------------------------------------------------

  void AppendDealId(const Deal& d, std::string* out) const {
    switch (d.kind) {
      case DealKind::kRound:
        AppendRoundId(d.company, d.round_k, d.label, out);
        return;
      case DealKind::kInvestment:
        AppendOrgId(d.other, out);
        out->append("-in-");
        AppendOrgId(d.company, out);
        out->push_back('-');
        AppendBase36(d.number, out);
        return;
      case DealKind::kAcquisition:
        AppendOrgId(d.other, out);
        out->append("-acquires-");
        AppendOrgId(d.company, out);
        out->push_back('-');
        AppendBase36(d.number, out);
        return;
    }
  }

  // "<company>-<label>" for sequenced labels (each used once per company),
  // "<company>-<label>-<k>" for the others.
  void AppendRoundId(uint32_t company, uint32_t k, uint8_t label, std::string* out) const {
    AppendOrgId(company, out);
    out->push_back('-');
    for (char c : kLabels[label]) out->push_back(c == '_' ? '-' : c);
    if (label >= kSequencedLabels) {
      out->push_back('-');
      out->append(std::to_string(k));
    }
  }

  void SetMoney(uint8_t currency, int64_t units, v1::Money* out) {
    out->set_currency_code(std::string(kCurrencies[currency].code));
    out->set_units(units);
  }

  // An amount of about `usd_k` thousand dollars in `currency`.
  static int64_t Amount(uint8_t currency, int64_t usd_k) {
    return Round3(usd_k * 1000 / 100 * kCurrencies[currency].per_100_usd);
  }

  v1::AmountBound RandomBound() {
    static constexpr uint32_t kWeights[] = {70, 8, 12, 5, 5};
    return static_cast<v1::AmountBound>(rng_.Weighted(kWeights));
  }

  uint8_t InitialStage() {
    static constexpr uint32_t kWeights[] = {8, 14, 6, 34, 38};
    return static_cast<uint8_t>(v1::DEAL_STAGE_RUMORED + rng_.Weighted(kWeights));
  }

  static bool IsOpen(uint8_t stage) {
    return stage >= v1::DEAL_STAGE_RUMORED && stage <= v1::DEAL_STAGE_ANNOUNCED;
  }

  v1::Confidence ConfidenceForStage(uint8_t stage) {
    if (stage == v1::DEAL_STAGE_RUMORED && rng_.Chance(70)) return v1::CONFIDENCE_RUMORED;
    if (stage == v1::DEAL_STAGE_CLOSED && rng_.Chance(50)) return v1::CONFIDENCE_OFFICIAL;
    return RandomConfidence();
  }

  void MaybeExpectedClose(int64_t day, v1::EffectiveDate* out) {
    const int64_t close = day + rng_.Range(30, 400);
    SetEffective(close, rng_.Chance(60) ? v1::DATE_PRECISION_QUARTER : v1::DATE_PRECISION_MONTH,
                 out);
  }

  void TrackOpen(const Deal& d) {
    if (!IsOpen(d.stage)) return;
    if (open_deals_.size() < kMaxOpenDeals) {
      open_deals_.push_back(d);
    } else {
      // The evicted deal stays open in the log; it is just never touched again.
      open_deals_[rng_.Below(open_deals_.size())] = d;
    }
  }

  void Untrack(size_t i) {
    open_deals_[i] = open_deals_.back();
    open_deals_.pop_back();
  }

  // A later stage for a deal at open stage `stage` (or the same, restated).
  uint8_t NextStage(uint8_t stage) {
    if (rng_.Chance(8)) return v1::DEAL_STAGE_COLLAPSED;
    if (rng_.Chance(7)) return stage;
    uint8_t next = static_cast<uint8_t>(stage + 1);
    if (next < v1::DEAL_STAGE_CLOSED && rng_.Chance(20)) ++next;
    return std::min<uint8_t>(next, v1::DEAL_STAGE_CLOSED);
  }

  // Adds sources (see AddSources) headlined "<subject's name> <verb>[
  // <money>][ <tail>]".
  void AddHeadlinedSources(v1::Event* e, uint32_t subject, std::string_view verb,
                           const v1::Money* money, std::string_view tail, int64_t day,
                           std::string_view press_org) {
    std::string title;
    AppendOrgName(subject, &title);
    title.push_back(' ');
    title.append(verb);
    if (money != nullptr) {
      title.push_back(' ');
      AppendHeadlineAmount(*money, &title);
    }
    if (!tail.empty()) {
      title.push_back(' ');
      title.append(tail);
    }
    AddSources(e, title, day, press_org);
  }

  // Fills the envelope of a claim about deal `d`: stream "deal/<id>", a
  // claim day, a confidence that fits its stage. Sets `id` to the deal's id
  // and returns the day.
  int64_t DealEnvelope(v1::Event* e, const Deal& d, std::string* id) {
    AppendDealId(d, id);
    const int64_t day = ClaimDay();
    Envelope(e, "deal", *id, day, ConfidenceForStage(d.stage));
    return day;
  }

  // Sometimes (`percent` %) picks an open deal to report again; returns its
  // index in open_deals_ when it is of `kind`.
  std::optional<size_t> OpenDealToRestate(DealKind kind, uint32_t percent) {
    if (open_deals_.empty() || !rng_.Chance(percent)) return std::nullopt;
    const size_t i = rng_.Below(open_deals_.size());
    if (open_deals_[i].kind != kind) return std::nullopt;
    return i;
  }

  // Moves open deal `i` on for a restated report (to a later stage or the
  // same one, never COLLAPSED) and returns it.
  Deal& Restate(size_t i) {
    Deal& d = open_deals_[i];
    d.stage =
        std::max<uint8_t>(d.stage, std::min<uint8_t>(NextStage(d.stage), v1::DEAL_STAGE_CLOSED));
    return d;
  }

  void FundingRound(v1::Event* e) {
    // Sometimes another claim about an open round.
    if (const auto i = OpenDealToRestate(DealKind::kRound, 10)) return ReReportRound(e, *i);
    Company& c = PickCompany();
    uint8_t label;
    if (c.next_label < kSequencedLabels) {
      label = c.next_label;
      if (c.next_label >= 2 && rng_.Chance(8)) label = kBridge;
      if (c.next_label >= 3 && rng_.Chance(4)) label = kStrategic;
    } else {
      static constexpr uint8_t kLater[] = {kLateStage, kLateStage, kLateStage, kStrategic, kBridge};
      label = rng_.Pick(kLater);
    }
    if (label < kSequencedLabels) ++c.next_label;
    const uint32_t k = c.rounds++;
    c.last_label = label;

    Deal d{0, c.org, kNone, k, DealKind::kRound, InitialStage(), label, c.currency, 0};
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_funding_round_reported();
    r->set_round_id(id);
    r->set_company_id(OrgId(c.org));
    r->set_label(std::string(kLabels[label]));
    const int64_t target =
        Amount(c.currency, rng_.Range(kRoundSizeK[label][0], kRoundSizeK[label][1]));
    if (rng_.Chance(90)) {
      SetMoney(c.currency, target, r->mutable_target_amount());
      r->set_target_amount_bound(RandomBound());
    }
    if (rng_.Chance(70)) {
      // Priced: post-money grows from the last valuation and is several
      // times the new money.
      int64_t post = target * rng_.Range(4, 10);
      if (c.valuation > 0) post = std::max(post, c.valuation / 10 * rng_.Range(11, 30));
      post = Round3(std::min(post, Amount(c.currency, kMaxValuationK)));
      SetMoney(c.currency, post, r->mutable_post_money_valuation());
      if (rng_.Chance(50)) SetMoney(c.currency, post - target, r->mutable_pre_money_valuation());
      c.valuation = post;
    }
    if (IsOpen(d.stage) && rng_.Chance(70)) MaybeExpectedClose(day, r->mutable_expected_close());
    const size_t leads = rng_.Weighted({30, 50, 20});
    uint32_t first_lead = kNone;
    for (size_t i = 0; i < leads; ++i) {
      const uint32_t lead = PickInvestor(c.org);
      if (lead == kNone || lead == first_lead) continue;
      first_lead = lead;
      r->add_lead_investor_ids(OrgId(lead));
    }
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    AddHeadlinedSources(e, c.org, "raises", r->has_target_amount() ? &r->target_amount() : nullptr,
                        kLabels[label] == "seed" ? "seed round" : "round", day, OrgName(c.org));
    TrackOpen(d);
  }

  void ReReportRound(v1::Event* e, size_t i) {
    const Deal& d = Restate(i);
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_funding_round_reported();
    r->set_round_id(id);
    r->set_company_id(OrgId(d.company));
    r->set_label(std::string(kLabels[d.label]));
    if (rng_.Chance(60)) {
      SetMoney(d.currency,
               Amount(d.currency, rng_.Range(kRoundSizeK[d.label][0], kRoundSizeK[d.label][1])),
               r->mutable_target_amount());
    }
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    AddHeadlinedSources(e, d.company, "round update", nullptr, "", day, OrgName(d.company));
    if (!IsOpen(d.stage)) Untrack(i);
  }

  void Investment(v1::Event* e) {
    if (const auto i = OpenDealToRestate(DealKind::kInvestment, 10)) {
      return ReReportInvestment(e, *i);
    }
    const Company& c = PickCompany();
    const uint32_t investor = PickInvestor(c.org);
    if (investor == kNone) return Valuation(e);
    static constexpr uint32_t kInstruments[] = {85, 7, 4, 4};
    Deal d{++deal_number_,
           c.org,
           investor,
           kNone,
           DealKind::kInvestment,
           InitialStage(),
           0,
           c.currency,
           static_cast<uint8_t>(v1::INSTRUMENT_EQUITY + rng_.Weighted(kInstruments))};
    if (c.rounds > 0 && rng_.Chance(75)) {
      d.round_k = c.rounds - 1;
      d.label = c.last_label;
    }
    if (rng_.Chance(5)) d.currency = static_cast<uint8_t>(rng_.Below(std::size(kCurrencies)));
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_investment_reported();
    r->set_investment_id(id);
    if (d.round_k != kNone) AppendRoundId(c.org, d.round_k, d.label, r->mutable_round_id());
    r->set_investor_id(OrgId(investor));
    r->set_company_id(OrgId(c.org));
    if (rng_.Chance(85)) {
      const uint8_t tier = d.round_k != kNone ? d.label : static_cast<uint8_t>(rng_.Below(8));
      int64_t usd_k = rng_.Range(kRoundSizeK[tier][0], kRoundSizeK[tier][1]);
      if (d.round_k != kNone) usd_k /= rng_.Range(2, 6);
      SetMoney(d.currency, Amount(d.currency, std::max<int64_t>(usd_k, 50)), r->mutable_amount());
      r->set_amount_bound(RandomBound());
    }
    r->set_instrument(static_cast<v1::Instrument>(d.instrument));
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    if (IsOpen(d.stage) && rng_.Chance(60)) MaybeExpectedClose(day, r->mutable_expected_close());
    std::string tail = "in ";
    AppendOrgName(c.org, &tail);
    AddHeadlinedSources(e, investor, "invests", r->has_amount() ? &r->amount() : nullptr, tail, day,
                        OrgName(investor));
    TrackOpen(d);
  }

  void ReReportInvestment(v1::Event* e, size_t i) {
    const Deal& d = Restate(i);
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_investment_reported();
    r->set_investment_id(id);
    if (d.round_k != kNone) AppendRoundId(d.company, d.round_k, d.label, r->mutable_round_id());
    r->set_investor_id(OrgId(d.other));
    r->set_company_id(OrgId(d.company));
    if (rng_.Chance(70))
      SetMoney(d.currency, Amount(d.currency, rng_.Range(500, 500'000)), r->mutable_amount());
    r->set_instrument(static_cast<v1::Instrument>(d.instrument));
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    AddHeadlinedSources(e, d.other, "investment update", nullptr, "", day, "");
    if (!IsOpen(d.stage)) Untrack(i);
  }

  void Acquisition(v1::Event* e) {
    if (const auto i = OpenDealToRestate(DealKind::kAcquisition, 15)) {
      return ReReportAcquisition(e, *i);
    }
    // The acquirer was registered before the target, so that "target becomes
    // a subsidiary of the acquirer" never closes a cycle.
    const Company& target = PickCompany();
    if (target.org == 0) return Valuation(e);
    const auto acquirer = static_cast<uint32_t>(rng_.Below(target.org));
    Deal d{++deal_number_, target.org, acquirer,        kNone, DealKind::kAcquisition,
           InitialStage(), 0,          target.currency, 0};
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_acquisition_reported();
    r->set_acquisition_id(id);
    r->set_acquirer_id(OrgId(acquirer));
    r->set_target_id(OrgId(target.org));
    if (rng_.Chance(70)) {
      int64_t price = target.valuation > 0 ? target.valuation / 10 * rng_.Range(8, 25)
                                           : Amount(d.currency, rng_.Range(5'000, 5'000'000));
      price = Round3(std::min(price, Amount(d.currency, kMaxValuationK)));
      SetMoney(d.currency, price, r->mutable_price());
      r->set_price_bound(RandomBound());
    }
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    if (IsOpen(d.stage) && rng_.Chance(60)) MaybeExpectedClose(day, r->mutable_expected_close());
    std::string tail;
    AppendOrgName(target.org, &tail);
    AddHeadlinedSources(e, acquirer, "to acquire", nullptr, tail, day, OrgName(acquirer));
    TrackOpen(d);
  }

  void ReReportAcquisition(v1::Event* e, size_t i) {
    const Deal& d = Restate(i);
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* r = e->mutable_payload()->mutable_acquisition_reported();
    r->set_acquisition_id(id);
    r->set_acquirer_id(OrgId(d.other));
    r->set_target_id(OrgId(d.company));
    r->set_stage(static_cast<v1::DealStage>(d.stage));
    AddHeadlinedSources(e, d.other, "acquisition update", nullptr, "", day, "");
    if (!IsOpen(d.stage)) Untrack(i);
  }

  void StageChange(v1::Event* e) {
    if (open_deals_.empty()) return Investment(e);
    const size_t i = rng_.Below(open_deals_.size());
    Deal& d = open_deals_[i];
    const uint8_t stage = NextStage(d.stage);
    d.stage = stage;
    std::string id;
    const int64_t day = DealEnvelope(e, d, &id);
    auto* c = e->mutable_payload()->mutable_deal_stage_changed();
    c->set_deal_id(id);
    c->set_new_stage(static_cast<v1::DealStage>(stage));
    if (stage != v1::DEAL_STAGE_COLLAPSED && rng_.Chance(40)) {
      const uint8_t currency =
          rng_.Chance(3) ? static_cast<uint8_t>(rng_.Below(std::size(kCurrencies))) : d.currency;
      SetMoney(currency, Amount(currency, rng_.Range(200, 2'000'000)), c->mutable_amount());
      c->set_amount_bound(RandomBound());
    }
    c->set_reason(std::string(stage == v1::DEAL_STAGE_COLLAPSED ? rng_.Pick(kCollapseReasons)
                                                                : rng_.Pick(kForwardReasons)));
    if (IsOpen(stage) && rng_.Chance(15)) MaybeExpectedClose(day, c->mutable_expected_close());
    AddHeadlinedSources(e, d.company,
                        stage == v1::DEAL_STAGE_COLLAPSED ? "deal collapses" : "deal advances",
                        nullptr, "", day, "");
    if (!IsOpen(stage)) Untrack(i);
  }

  // ----- claims about companies ---------------------------------------------

  void RememberClaim(const Claim& claim) {
    if (claims_.size() < kMaxClaims) {
      claims_.push_back(claim);
    } else {
      claims_[rng_.Below(claims_.size())] = claim;
    }
  }

  void FillValuation(const Company& c, uint8_t currency, v1::ValuationReported* v) {
    v->set_company_id(OrgId(c.org));
    const int64_t base =
        c.valuation > 0 ? c.valuation : Amount(currency, rng_.Range(2'000, 900'000));
    const int64_t valuation =
        std::min(base / 100 * rng_.Range(70, 140), Amount(currency, kMaxValuationK));
    SetMoney(currency, Round3(valuation), v->mutable_valuation());
    v->set_valuation_bound(RandomBound());
  }

  void Valuation(v1::Event* e) {
    const Company& c = PickCompany();
    const int64_t day = ClaimDay();
    const auto [hi, lo] = Envelope(e, "org", OrgId(c.org), day, RandomConfidence());
    auto* v = e->mutable_payload()->mutable_valuation_reported();
    FillValuation(c, c.currency, v);
    static constexpr uint32_t kBases[] = {35, 20, 10, 10, 25};
    auto basis =
        static_cast<v1::ValuationBasis>(v1::VALUATION_BASIS_PRIMARY_ROUND + rng_.Weighted(kBases));
    if (basis == v1::VALUATION_BASIS_PRIMARY_ROUND && c.rounds == 0) {
      basis = v1::VALUATION_BASIS_ESTIMATE;
    }
    v->set_basis(basis);
    if (basis == v1::VALUATION_BASIS_PRIMARY_ROUND) {
      AppendRoundId(c.org, c.rounds - 1, c.last_label, v->mutable_round_id());
    }
    AddHeadlinedSources(e, c.org, "valued at", &v->valuation(), "", day, OrgName(c.org));
    RememberClaim({hi, lo, Case::kValuationReported, c.org, kNone, 0, day, c.currency});
  }

  void FillOwnership(v1::OwnershipFraction* o) {
    static constexpr uint32_t kShapes[] = {40, 30, 30};
    switch (rng_.Weighted(kShapes)) {
      case 0:
        o->mutable_exact()->set_parts_per_million(rng_.Range(1'000, 600'000));
        if (rng_.Chance(20)) o->set_qualifier(std::string(rng_.Pick(kStakeQualifiers)));
        break;
      case 1: {
        const int64_t lo = rng_.Range(0, 500'000);
        o->mutable_range()->set_min_parts_per_million(lo);
        o->mutable_range()->set_max_parts_per_million(lo + rng_.Range(0, 200'000));
        if (rng_.Chance(20)) o->set_qualifier(std::string(rng_.Pick(kStakeQualifiers)));
        break;
      }
      default:
        o->set_qualifier(std::string(rng_.Pick(kStakeQualifiers)));
        break;
    }
  }

  void Stake(v1::Event* e) {
    const Company& c = PickCompany();
    const uint32_t holder = rng_.Chance(75) ? PickInvestor(c.org) : PickCompany().org;
    if (holder == kNone || holder == c.org) return Valuation(e);
    const int64_t day = ClaimDay();
    const auto [hi, lo] = Envelope(e, "org", OrgId(c.org), day, RandomConfidence());
    auto* s = e->mutable_payload()->mutable_stake_disclosed();
    s->set_holder_id(OrgId(holder));
    s->set_company_id(OrgId(c.org));
    FillOwnership(s->mutable_ownership());
    std::string tail = "stake in ";
    AppendOrgName(c.org, &tail);
    AddHeadlinedSources(e, holder, "discloses", nullptr, tail, day, OrgName(holder));
    RememberClaim({hi, lo, Case::kStakeDisclosed, c.org, holder, 0, day, c.currency});
  }

  void Update(v1::Event* e) {
    const auto index = static_cast<uint32_t>(rng_.Below(orgs_.size()));
    const Org& o = orgs_[index];
    const std::string id = OrgId(index);
    const std::string name = OrgName(index);
    const int64_t day = ClaimDay();
    Envelope(e, "org", id, day, RandomConfidence());
    auto* u = e->mutable_payload()->mutable_organization_updated();
    u->set_org_id(id);
    static constexpr uint32_t kChanges[] = {35, 25, 10, 15, 10, 5};
    switch (rng_.Weighted(kChanges)) {
      case 0:
        u->set_description(name + " updated its profile.");
        break;
      case 1:
        u->add_add_aliases(name + (rng_.Chance(50) ? " Inc." : " Ltd"));
        if (rng_.Chance(30)) u->add_remove_aliases(name + " LLC");
        break;
      case 2:
        u->set_website(std::string("https://") + id + ".example.com");
        break;
      case 3:
        if (o.type == OrgType::kCompany) {
          u->set_replace_sectors(true);
          AddSectors(1 + rng_.Below(3), u->mutable_sectors());
        } else {
          u->set_description(name + " changed its investment focus.");
        }
        break;
      case 4: {
        const Civil now = CivilFromDays(day);
        SetEffective(DaysFromCivil(rng_.Range(std::min(1990, now.year), now.year), 1, 1),
                     v1::DATE_PRECISION_YEAR, u->mutable_founded());
        break;
      }
      default:
        // A new parent registered earlier than the organization (parents
        // always have smaller indices: no cycles), or none.
        if (o.type == OrgType::kCompany && o.company_slot > 0 && rng_.Chance(80)) {
          u->set_parent_org_id(OrgId(companies_[rng_.Below(o.company_slot)].org));
        } else {
          u->set_parent_org_id("");
        }
        break;
    }
    AddSources(e, name, day, name);
  }

  // ----- partnerships and facilities ----------------------------------------

  void PartnershipFormed(v1::Event* e) {
    const uint32_t a = PickCompany().org;
    const uint32_t b = rng_.Chance(85) ? PickCompany().org : PickInvestor(a);
    if (b == kNone || b == a) return Valuation(e);
    const Partnership p{a, b, ++partnership_number_};
    std::string id;
    AppendPartnershipId(p, &id);
    const int64_t day = ClaimDay();
    Envelope(e, "partnership", id, day, RandomConfidence());
    auto* f = e->mutable_payload()->mutable_partnership_formed();
    f->set_partnership_id(id);
    struct RolePair {
      v1::PartnershipRole a;
      v1::PartnershipRole b;
    };
    static constexpr RolePair kPairs[] = {
        {v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER, v1::PARTNERSHIP_ROLE_CUSTOMER},
        {v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER, v1::PARTNERSHIP_ROLE_CUSTOMER},
        {v1::PARTNERSHIP_ROLE_CHIP_SUPPLIER, v1::PARTNERSHIP_ROLE_CUSTOMER},
        {v1::PARTNERSHIP_ROLE_DISTRIBUTOR, v1::PARTNERSHIP_ROLE_TECHNOLOGY_PARTNER},
        {v1::PARTNERSHIP_ROLE_TECHNOLOGY_PARTNER, v1::PARTNERSHIP_ROLE_TECHNOLOGY_PARTNER},
        {v1::PARTNERSHIP_ROLE_RESELLER, v1::PARTNERSHIP_ROLE_CUSTOMER},
        {v1::PARTNERSHIP_ROLE_INVESTOR, v1::PARTNERSHIP_ROLE_CUSTOMER},
        {v1::PARTNERSHIP_ROLE_OTHER, v1::PARTNERSHIP_ROLE_OTHER},
    };
    const RolePair& pair = rng_.Pick(kPairs);
    const std::string a_id = OrgId(a);
    const std::string b_id = OrgId(b);
    auto add = [f](const std::string& org, v1::PartnershipRole role) {
      v1::PartnershipParty* party = f->add_parties();
      party->set_org_id(org);
      party->set_role(role);
    };
    add(a_id, pair.a);
    add(b_id, pair.b);
    // Sometimes the provider plays a second role (AWS: cloud and training).
    if (pair.a == v1::PARTNERSHIP_ROLE_CLOUD_PROVIDER && rng_.Chance(40)) {
      add(a_id, v1::PARTNERSHIP_ROLE_TRAINING_PROVIDER);
    }
    if (rng_.Chance(10)) {
      const uint32_t third = PickCompany().org;
      if (third != a && third != b) add(OrgId(third), v1::PARTNERSHIP_ROLE_DISTRIBUTOR);
    }
    f->set_exclusive(rng_.Chance(5));
    f->set_primary(rng_.Chance(25));
    if (rng_.Chance(30)) {
      const uint8_t currency = companies_[orgs_[a].company_slot].currency;
      SetMoney(currency, Amount(currency, rng_.Range(1'000, 5'000'000)), f->mutable_value());
      f->set_value_bound(RandomBound());
    }
    std::string* description = f->mutable_description();
    AppendOrgName(a, description);
    description->append(" and ");
    AppendOrgName(b, description);
    description->append(" partner (");
    description->append(v1::PartnershipRole_Name(pair.a)).append(").");
    std::string tail;
    AppendOrgName(b, &tail);
    AddHeadlinedSources(e, a, "partners with", nullptr, tail, day, OrgName(a));
    if (partnerships_.size() < kMaxActivePartnerships) {
      partnerships_.push_back(p);
    } else {
      partnerships_[rng_.Below(partnerships_.size())] = p;
    }
  }

  void AppendPartnershipId(const Partnership& p, std::string* out) const {
    AppendOrgId(p.a, out);
    out->push_back('-');
    AppendOrgId(p.b, out);
    out->push_back('-');
    AppendBase36(p.number, out);
  }

  void PartnershipEnded(v1::Event* e) {
    if (partnerships_.empty()) return PartnershipFormed(e);
    const size_t i = rng_.Below(partnerships_.size());
    const Partnership p = partnerships_[i];
    partnerships_[i] = partnerships_.back();
    partnerships_.pop_back();
    std::string id;
    AppendPartnershipId(p, &id);
    const int64_t day = ClaimDay();
    Envelope(e, "partnership", id, day, RandomConfidence());
    auto* end = e->mutable_payload()->mutable_partnership_ended();
    end->set_partnership_id(id);
    end->set_reason(std::string(rng_.Pick(kEndReasons)));
    AddHeadlinedSources(e, p.a, "ends partnership", nullptr, "", day, "");
  }

  void AppendFacilityId(uint32_t owner, uint32_t city, uint64_t number, std::string* out) const {
    AppendOrgId(owner, out);
    out->push_back('-');
    out->append(kCities[city].slug);
    out->push_back('-');
    AppendBase36(number, out);
  }

  void Facility(v1::Event* e) {
    const Company& owner = PickCompany();
    const auto city = static_cast<uint32_t>(rng_.Below(std::size(kCities)));
    const uint64_t number = ++facility_number_;
    std::string id;
    AppendFacilityId(owner.org, city, number, &id);
    const int64_t day = ClaimDay();
    const auto [hi, lo] = Envelope(e, "facility", id, day, RandomConfidence());
    auto* f = e->mutable_payload()->mutable_facility_announced();
    f->set_facility_id(id);
    f->set_owner_id(OrgId(owner.org));
    if (rng_.Chance(40)) {
      const uint32_t beneficiary = PickCompany().org;
      if (beneficiary != owner.org) f->set_beneficiary_id(OrgId(beneficiary));
    }
    f->set_location(std::string(kCities[city].location));
    if (rng_.Chance(80)) {
      SetMoney(owner.currency, Amount(owner.currency, rng_.Range(50'000, 20'000'000)),
               f->mutable_amount());
      f->set_amount_bound(RandomBound());
    }
    f->set_purpose(std::string(rng_.Pick(kFacilityPurposes)));
    if (rng_.Chance(50)) {
      const int64_t completion = day + rng_.Range(180, 1400);
      SetEffective(completion,
                   rng_.Chance(50) ? v1::DATE_PRECISION_YEAR : v1::DATE_PRECISION_QUARTER,
                   f->mutable_expected_completion());
    }
    std::string tail = "in ";
    tail.append(kCities[city].location);
    AddHeadlinedSources(e, owner.org, "plans facility", f->has_amount() ? &f->amount() : nullptr,
                        tail, day, OrgName(owner.org));
    RememberClaim({hi, lo, Case::kFacilityAnnounced, owner.org, city, number, day, owner.currency});
  }

  void Fx(v1::Event* e) {
    const size_t pair = rng_.Below(std::size(kFxPairs));
    const FxPair& p = kFxPairs[pair];
    // A bounded random walk: at most ±1.5 % a step, within half and twice
    // the starting rate.
    int64_t& nanos = fx_nanos_[pair];
    nanos += nanos / 1000 * rng_.Range(-15, 15);
    nanos = std::clamp(nanos, p.start_nanos / 2, p.start_nanos * 2);
    std::string id;
    id.append(kCurrencies[p.base].code).push_back('-');
    id.append(kCurrencies[p.quote].code);
    Envelope(e, "fx", id, day_, v1::CONFIDENCE_OFFICIAL, v1::DATE_PRECISION_DAY);
    auto* r = e->mutable_payload()->mutable_fx_rate_reported();
    r->set_base_currency(std::string(kCurrencies[p.base].code));
    r->set_quote_currency(std::string(kCurrencies[p.quote].code));
    v1::Money* rate = r->mutable_rate();
    rate->set_currency_code(std::string(kCurrencies[p.quote].code));
    rate->set_units(nanos / 1'000'000'000);
    rate->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    v1::Source* s = e->add_sources();
    s->set_publisher("European Central Bank");
    s->set_url("https://www.ecb.europa.eu/stats/policy_and_exchange_rates/");
    SetDate(CivilFromDays(day_), v1::DATE_PRECISION_DAY, s->mutable_published_date());
  }

  // ----- retractions and corrections ----------------------------------------

  void AppendClaimStream(const Claim& c, std::string* out) const {
    if (c.payload_case == Case::kFacilityAnnounced) {
      out->append("facility/");
      AppendFacilityId(c.company, c.other, c.number, out);
    } else {
      out->append("org/");
      AppendOrgId(c.company, out);
    }
  }

  void Retract(v1::Event* e) {
    if (claims_.empty()) return Valuation(e);
    const size_t i = rng_.Below(claims_.size());
    const Claim c = claims_[i];
    claims_[i] = claims_.back();
    claims_.pop_back();
    NewEventId(e->mutable_event_id());
    AppendClaimStream(c, e->mutable_stream());
    SetEffective(std::max(day_, c.day), RandomPrecision(), e->mutable_effective());
    e->set_confidence(RandomConfidence());
    auto* r = e->mutable_payload()->mutable_event_retracted();
    common::FormatUuidV4(c.id_hi, c.id_lo, r->mutable_event_id());
    r->set_reason(std::string(rng_.Pick(kRetractReasons)));
    if (rng_.Chance(60)) AddSources(e, "Correction", day_, "");
  }

  void Correct(v1::Event* e) {
    // Only valuations and stakes are corrected.
    size_t i = claims_.size();
    for (int attempt = 0; attempt < 4 && !claims_.empty(); ++attempt) {
      const size_t j = rng_.Below(claims_.size());
      if (claims_[j].payload_case != Case::kFacilityAnnounced) {
        i = j;
        break;
      }
    }
    if (i == claims_.size()) return Valuation(e);
    const Claim c = claims_[i];
    claims_[i] = claims_.back();
    claims_.pop_back();
    NewEventId(e->mutable_event_id());
    AppendClaimStream(c, e->mutable_stream());
    // The correction's effective date replaces the original's: keep its day.
    SetEffective(c.day, RandomPrecision(), e->mutable_effective());
    e->set_confidence(RandomConfidence());
    auto* corr = e->mutable_payload()->mutable_event_corrected();
    common::FormatUuidV4(c.id_hi, c.id_lo, corr->mutable_event_id());
    const Company& company = companies_[orgs_[c.company].company_slot];
    if (c.payload_case == Case::kValuationReported) {
      auto* v = corr->mutable_replacement()->mutable_valuation_reported();
      const uint8_t currency =
          rng_.Chance(20) ? static_cast<uint8_t>(rng_.Below(std::size(kCurrencies))) : c.currency;
      FillValuation(company, currency, v);
      v->set_basis(v1::VALUATION_BASIS_ESTIMATE);
    } else {
      auto* s = corr->mutable_replacement()->mutable_stake_disclosed();
      s->set_holder_id(OrgId(c.other));
      s->set_company_id(OrgId(c.company));
      FillOwnership(s->mutable_ownership());
    }
    corr->set_reason(std::string(rng_.Pick(kCorrectReasons)));
    AddHeadlinedSources(e, c.company, "correction", nullptr, "", std::max(day_, c.day), "");
  }

  // ----- dispatch -------------------------------------------------------------

  void GenerateOther(v1::Event* e) {
    // Weights per 10,000 events (OrganizationRegistered is scheduled apart).
    static constexpr uint32_t kWeights[] = {
        100,   // OrganizationUpdated
        1000,  // FundingRoundReported
        3000,  // InvestmentReported
        2000,  // DealStageChanged
        1200,  // ValuationReported
        400,   // StakeDisclosed
        100,   // AcquisitionReported
        600,   // PartnershipFormed
        100,   // PartnershipEnded
        200,   // FacilityAnnounced
        100,   // FxRateReported
        50,    // EventRetracted
        50,    // EventCorrected
    };
    switch (rng_.Weighted(kWeights)) {
      case 0:
        return Update(e);
      case 1:
        return FundingRound(e);
      case 2:
        return Investment(e);
      case 3:
        return StageChange(e);
      case 4:
        return Valuation(e);
      case 5:
        return Stake(e);
      case 6:
        return Acquisition(e);
      case 7:
        return PartnershipFormed(e);
      case 8:
        return PartnershipEnded(e);
      case 9:
        return Facility(e);
      case 10:
        return Fx(e);
      case 11:
        return Retract(e);
      default:
        return Correct(e);
    }
  }

  const SyntheticOptions options_;
  Rng rng_;
  size_t planned_companies_ = 0;
  size_t planned_investors_ = 0;
  size_t generated_ = 0;
  int64_t day_ = 0;
  std::array<uint64_t, kCaseSlots> counts_{};

  std::vector<Org> orgs_;            // by org index (registration order)
  std::vector<Company> companies_;   // by company slot
  std::vector<uint32_t> investors_;  // org indices of investors, funds, sovereign funds
  std::vector<uint32_t> firms_;      // org indices of investment firms (fund parents)
  std::vector<Deal> open_deals_;
  std::vector<Partnership> partnerships_;
  std::vector<Claim> claims_;
  int64_t fx_nanos_[std::size(kFxPairs)] = {};
  uint64_t deal_number_ = 0;
  uint64_t partnership_number_ = 0;
  uint64_t facility_number_ = 0;
  uint64_t source_number_ = 0;
};

SyntheticEvents::SyntheticEvents(const SyntheticOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
SyntheticEvents::~SyntheticEvents() = default;

bool SyntheticEvents::Next(v1::Event* out) { return impl_->Next(out); }
size_t SyntheticEvents::generated() const { return impl_->generated(); }
uint64_t SyntheticEvents::count(Case c) const { return impl_->count(c); }
size_t SyntheticEvents::planned_companies() const { return impl_->planned_companies(); }
size_t SyntheticEvents::planned_investors() const { return impl_->planned_investors(); }

}  // namespace dealwire::bench
