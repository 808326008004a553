#include "clients/cli/parse.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "clients/cli/cli.h"
#include "common/calendar.h"
#include "common/currency.h"
#include "common/uuid.h"

namespace dealwire::cli {
namespace {

int Number(absl::string_view field, absl::string_view part, absl::string_view text,
           size_t digits) {
  int v = 0;
  if (part.size() != digits || !absl::SimpleAtoi(part, &v) || !absl::ascii_isdigit(part[0])) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not a date (use 2026-01-28, 2026-01, 2026-Q1 or 2026)"));
  }
  return v;
}

}  // namespace

v1::EffectiveDate ParseEffective(absl::string_view field, absl::string_view text) {
  return ParseEffectiveInYears(field, text, 1900, 2200);
}

v1::EffectiveDate ParseEffectiveInYears(absl::string_view field, absl::string_view text,
                                        int min_year, int max_year) {
  text = absl::StripAsciiWhitespace(text);
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  v1::EffectiveDate out;
  v1::Date* d = out.mutable_date();
  if (parts.empty() || parts.size() > 3) {
    BadInput(field, absl::StrCat("'", text, "' is not a date (use 2026-01-28, 2026-01, 2026-Q1 or 2026)"));
  }
  const int year = Number(field, parts[0], text, 4);
  if (year < min_year || year > max_year) {
    BadInput(field, absl::StrCat("year ", year, " is outside ", min_year, "..", max_year));
  }
  d->set_year(year);
  out.set_precision(v1::DATE_PRECISION_YEAR);
  if (parts.size() >= 2) {
    if (parts.size() == 2 && (absl::StartsWith(parts[1], "Q") || absl::StartsWith(parts[1], "q"))) {
      const int q = Number(field, parts[1].substr(1), text, 1);
      if (q < 1 || q > 4) BadInput(field, absl::StrCat("quarter Q", q, " is outside Q1..Q4"));
      d->set_month((q - 1) * 3 + 1);
      out.set_precision(v1::DATE_PRECISION_QUARTER);
      return out;
    }
    const int month = Number(field, parts[1], text, 2);
    if (month < 1 || month > 12) BadInput(field, absl::StrCat("month ", month, " is outside 1..12"));
    d->set_month(month);
    out.set_precision(v1::DATE_PRECISION_MONTH);
  }
  if (parts.size() == 3) {
    const int day = Number(field, parts[2], text, 2);
    if (day < 1 || day > common::DaysInMonth(year, d->month())) {
      BadInput(field, absl::StrCat("'", text, "' is not a day of the calendar"));
    }
    d->set_day(day);
    out.set_precision(v1::DATE_PRECISION_DAY);
  }
  return out;
}

v1::Date ParseDay(absl::string_view field, absl::string_view text) {
  v1::EffectiveDate e = ParseEffective(field, text);
  if (e.precision() != v1::DATE_PRECISION_DAY) {
    BadInput(field, absl::StrCat("'", text, "' is not a day (use 2026-01-28)"));
  }
  return e.date();
}

v1::Confidence ParseConfidence(absl::string_view field, absl::string_view text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (!absl::StartsWith(t, "CONFIDENCE_")) t = absl::StrCat("CONFIDENCE_", t);
  v1::Confidence c;
  if (!v1::Confidence_Parse(t, &c) || c == v1::CONFIDENCE_UNSPECIFIED) {
    BadInput(field, absl::StrCat("'", text, "' is not a confidence (rumored, reported, "
                                            "confirmed, official)"));
  }
  return c;
}

absl::Time ParseTimestamp(absl::string_view field, absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (text.size() == 10) {
    const v1::Date d = ParseDay(field, text);
    return absl::FromCivil(absl::CivilDay(d.year(), d.month(), d.day()), absl::UTCTimeZone());
  }
  BadInput(field, absl::StrCat("'", text,
                               "' is not a time (use RFC 3339, 2026-01-28T12:00:00Z, or a day)"));
}


// --- Money ---------------------------------------------------------------------

namespace {


struct CurrencySymbol {
  absl::string_view symbol;
  absl::string_view code;
};
// Longest first, so "US$" wins over "$".
constexpr CurrencySymbol kSymbols[] = {
    {"US$", "USD"}, {"$", "USD"},          {"\xE2\x82\xAC", "EUR"}, {"\xC2\xA3", "GBP"},
    {"\xC2\xA5", "JPY"}, {"\xE2\x82\xB9", "INR"}, {"\xE2\x82\xA9", "KRW"},
};

struct Scale {
  absl::string_view word;  // lower-case
  int exponent;
};
constexpr Scale kScales[] = {
    {"k", 3},  {"thousand", 3}, {"m", 6},  {"mn", 6},  {"million", 6},  {"b", 9},
    {"bn", 9}, {"billion", 9},  {"t", 12}, {"tn", 12}, {"trillion", 12},
};

constexpr absl::string_view kMoneyHint = "write e.g. \"50B USD\", \"$8,000,000,000\" or \"4.5M EUR\"";

enum class TokenKind { kNumber, kScale, kCurrency };
struct Token {
  TokenKind kind;
  std::string text;  // the number's characters, or the currency code
  int exponent = 0;  // kScale
};

// Checks a currency code word (letters only), naming the field.
std::string CurrencyFromWord(absl::string_view field, absl::string_view word) {
  if (word.size() == 3) {
    const std::string upper = absl::AsciiStrToUpper(word);
    if (upper == word) {
      if (!common::IsIso4217(word)) {
        BadInput(field, absl::StrCat("'", word, "' is not an active ISO 4217 currency code"));
      }
      return upper;
    }
    if (common::IsIso4217(upper)) {
      BadInput(field, absl::StrCat("currency codes are upper-case: write ", upper, ", not ", word));
    }
  }
  BadInput(field, absl::StrCat("'", word,
                               "' is neither a scale (K, M, B, T, thousand, million, billion, "
                               "trillion) nor an ISO 4217 currency code"));
}

std::vector<Token> TokenizeMoney(absl::string_view field, absl::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    bool symbol = false;
    for (const CurrencySymbol& s : kSymbols) {
      if (absl::StartsWith(text.substr(i), s.symbol)) {
        tokens.push_back({TokenKind::kCurrency, std::string(s.code)});
        i += s.symbol.size();
        symbol = true;
        break;
      }
    }
    if (symbol) continue;
    if (absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.') {
      size_t j = i;
      while (j < text.size() && (absl::ascii_isdigit(static_cast<unsigned char>(text[j])) ||
                                 text[j] == ',' || text[j] == '.')) {
        ++j;
      }
      tokens.push_back({TokenKind::kNumber, std::string(text.substr(i, j - i))});
      i = j;
      continue;
    }
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[j]))) ++j;
      const absl::string_view word = text.substr(i, j - i);
      const std::string lower = absl::AsciiStrToLower(word);
      bool scale = false;
      for (const Scale& s : kScales) {
        if (lower == s.word) {
          tokens.push_back({TokenKind::kScale, std::string(word), s.exponent});
          scale = true;
          break;
        }
      }
      if (!scale) tokens.push_back({TokenKind::kCurrency, CurrencyFromWord(field, word)});
      i = j;
      continue;
    }
    if (c == '-' || absl::StartsWith(text.substr(i), "\xE2\x88\x92")) {  // '-' or U+2212
      BadInput(field, absl::StrCat("'", text, "': amounts must not be negative"));
    }
    BadInput(field, absl::StrCat("'", text, "' is not an amount of money: unexpected '",
                                 text.substr(i, 1), "' (", kMoneyHint, ")"));
  }
  return tokens;
}

// Splits a decimal number "1,234.5" into its integer and fraction digits,
// checking the grouping of thousands. Returns false when it is malformed.
bool SplitDecimal(absl::string_view number, std::string* int_digits, std::string* frac_digits) {
  const size_t dot = number.find('.');
  absl::string_view int_part = number.substr(0, dot);
  absl::string_view frac_part;
  if (dot != absl::string_view::npos) {
    frac_part = number.substr(dot + 1);
    if (frac_part.empty() || frac_part.find_first_not_of("0123456789") != absl::string_view::npos) {
      return false;
    }
  }
  if (int_part.empty() && frac_part.empty()) return false;
  if (int_part.find(',') != absl::string_view::npos) {
    const std::vector<absl::string_view> groups = absl::StrSplit(int_part, ',');
    for (size_t g = 0; g < groups.size(); ++g) {
      const size_t n = groups[g].size();
      if (g == 0 ? (n < 1 || n > 3) : n != 3) return false;
    }
  }
  int_digits->clear();
  for (char c : int_part) {
    if (c == ',') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    int_digits->push_back(c);
  }
  *frac_digits = std::string(frac_part);
  return true;
}

// Returns int_digits.frac_digits × 10^exponent, exactly, as Money in `currency`.
v1::Money ScaledMoney(absl::string_view field, absl::string_view text,
                      const std::string& int_digits, std::string frac_digits, int exponent,
                      absl::string_view currency) {
  // Move `exponent` digits of the fraction into the integer part.
  std::string whole = int_digits;
  for (int k = 0; k < exponent; ++k) {
    whole.push_back(frac_digits.empty() ? '0' : frac_digits[0]);
    if (!frac_digits.empty()) frac_digits.erase(0, 1);
  }
  if (frac_digits.size() > 9) {
    if (frac_digits.find_first_not_of('0', 9) != std::string::npos) {
      BadInput(field, absl::StrCat("'", text, "' is more precise than a billionth of a unit"));
    }
    frac_digits.resize(9);
  }
  frac_digits.resize(9, '0');
  const size_t first = whole.find_first_not_of('0');
  whole = first == std::string::npos ? "0" : whole.substr(first);
  unsigned __int128 u = 0;
  for (char c : whole) {
    u = u * 10 + static_cast<unsigned>(c - '0');
    if (u > static_cast<unsigned __int128>(kMaxMoneyUnits)) {
      BadInput(field, absl::StrCat("'", text,
                                   "' is too large: at most 1,000,000,000,000,000 (10^15) units"));
    }
  }
  int32_t n = 0;
  for (char c : frac_digits) n = n * 10 + (c - '0');
  v1::Money m;
  m.set_currency_code(std::string(currency));
  m.set_units(static_cast<int64_t>(u));
  m.set_nanos(n);
  return m;
}

}  // namespace


std::string ParseCurrency(absl::string_view field, absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  const std::string upper = absl::AsciiStrToUpper(text);
  if (upper != text && common::IsIso4217(upper)) {
    BadInput(field, absl::StrCat("currency codes are upper-case: write ", upper, ", not ", text));
  }
  if (!common::IsIso4217(text)) {
    BadInput(field, absl::StrCat("'", text, "' is not an active ISO 4217 currency code"));
  }
  return std::string(text);
}

v1::Money ParseMoney(absl::string_view field, absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty()) BadInput(field, absl::StrCat("no amount given (", kMoneyHint, ")"));
  const std::vector<Token> tokens = TokenizeMoney(field, t);
  // Grammar: [currency] number [scale] [currency].
  const Token* number = nullptr;
  int exponent = 0;
  std::string currency;
  bool closed = false;  // a currency after the number: nothing may follow
  for (size_t k = 0; k < tokens.size(); ++k) {
    const Token& tok = tokens[k];
    if (closed) {
      BadInput(field, absl::StrCat("'", t, "': nothing may follow the currency after the amount (",
                                   kMoneyHint, ")"));
    }
    switch (tok.kind) {
      case TokenKind::kNumber:
        if (number != nullptr) {
          BadInput(field, absl::StrCat("'", t, "' holds more than one number (", kMoneyHint, ")"));
        }
        number = &tok;
        break;
      case TokenKind::kScale:
        if (number == nullptr || k == 0 || tokens[k - 1].kind != TokenKind::kNumber) {
          BadInput(field, absl::StrCat("'", t, "': the scale '", tok.text,
                                       "' must follow the number (", kMoneyHint, ")"));
        }
        exponent = tok.exponent;
        break;
      case TokenKind::kCurrency:
        if (!currency.empty() && currency != tok.text) {
          BadInput(field, absl::StrCat("'", t, "' names two currencies (", currency, " and ",
                                       tok.text, ")"));
        }
        if (!currency.empty() && number == nullptr) {
          BadInput(field, absl::StrCat("'", t, "' names the currency twice before the number"));
        }
        currency = tok.text;
        if (number != nullptr) closed = true;
        break;
    }
  }
  if (number == nullptr) {
    BadInput(field, absl::StrCat("'", t, "' has no number (", kMoneyHint, ")"));
  }
  if (currency.empty()) {
    BadInput(field, absl::StrCat("'", t, "' has no currency (", kMoneyHint, ")"));
  }
  std::string int_digits, frac_digits;
  if (!SplitDecimal(number->text, &int_digits, &frac_digits)) {
    BadInput(field, absl::StrCat("'", number->text, "' is not a number (in '", t, "'; ",
                                 kMoneyHint, ")"));
  }
  return ScaledMoney(field, t, int_digits, frac_digits, exponent, currency);
}

v1::Money ParseBoundedMoney(absl::string_view field, absl::string_view text,
                            v1::AmountBound* bound) {
  struct Prefix {
    absl::string_view words;
    v1::AmountBound bound;
  };
  static constexpr Prefix kPrefixes[] = {
      {"up to ", v1::AMOUNT_BOUND_UP_TO},          {"as much as ", v1::AMOUNT_BOUND_UP_TO},
      {"<=", v1::AMOUNT_BOUND_UP_TO},              {"at least ", v1::AMOUNT_BOUND_AT_LEAST},
      {"more than ", v1::AMOUNT_BOUND_AT_LEAST},   {"over ", v1::AMOUNT_BOUND_AT_LEAST},
      {">=", v1::AMOUNT_BOUND_AT_LEAST},           {">", v1::AMOUNT_BOUND_AT_LEAST},
      {"about ", v1::AMOUNT_BOUND_APPROXIMATE},    {"approximately ", v1::AMOUNT_BOUND_APPROXIMATE},
      {"approx. ", v1::AMOUNT_BOUND_APPROXIMATE},  {"roughly ", v1::AMOUNT_BOUND_APPROXIMATE},
      {"around ", v1::AMOUNT_BOUND_APPROXIMATE},   {"~", v1::AMOUNT_BOUND_APPROXIMATE},
  };
  absl::string_view t = absl::StripAsciiWhitespace(text);
  *bound = v1::AMOUNT_BOUND_UNSPECIFIED;
  const std::string lower = absl::AsciiStrToLower(t);
  for (const Prefix& p : kPrefixes) {
    if (absl::StartsWith(lower, p.words)) {
      *bound = p.bound;
      t.remove_prefix(p.words.size());
      break;
    }
  }
  return ParseMoney(field, t);
}

v1::Money ParseRate(absl::string_view field, absl::string_view text, absl::string_view currency) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  std::string int_digits, frac_digits;
  if (t.empty() || t.find(',') != absl::string_view::npos ||
      !SplitDecimal(t, &int_digits, &frac_digits)) {
    BadInput(field, absl::StrCat("'", t, "' is not a decimal number (e.g. 1.0842)"));
  }
  v1::Money m = ScaledMoney(field, t, int_digits, frac_digits, 0, currency);
  if (m.units() == 0 && m.nanos() == 0) BadInput(field, "a rate must be strictly positive");
  return m;
}

// --- Enums -----------------------------------------------------------------------

std::string EnumChoices(const google::protobuf::EnumDescriptor* type) {
  std::vector<std::string> labels;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    labels.push_back(EnumLabel(type, type->value(i)->number()));
  }
  return absl::StrJoin(labels, ", ");
}

int ParseEnumValue(absl::string_view field, const google::protobuf::EnumDescriptor* type,
                   absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  for (char& c : name) {
    if (c == '-' || c == ' ') c = '_';
  }
  const std::string prefix = EnumPrefix(type);
  const google::protobuf::EnumValueDescriptor* v = nullptr;
  if (!name.empty()) {
    v = type->FindValueByName(absl::StartsWith(name, prefix) ? name : prefix + name);
  }
  if (v == nullptr || v->number() == 0) {
    std::string what = absl::AsciiStrToLower(prefix.substr(0, prefix.size() - 1));
    absl::StrReplaceAll({{"_", " "}}, &what);
    const bool vowel = absl::StrContains("aeiou", what.substr(0, 1));
    BadInput(field, absl::StrCat("'", text, "' is not ", vowel ? "an " : "a ", what,
                                 " (one of: ", EnumChoices(type), ")"));
  }
  return v->number();
}

// --- Appends ------------------------------------------------------------------

v1::ExpectedVersion ParseExpectedVersion(absl::string_view field, absl::string_view text) {
  v1::ExpectedVersion v;
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  uint64_t exact = 0;
  if (t == "any") {
    v.set_state(v1::EXPECTED_STATE_ANY);
  } else if (t == "no-stream" || t == "no_stream" || t == "none") {
    v.set_state(v1::EXPECTED_STATE_NO_STREAM);
  } else if (t == "exists" || t == "stream-exists") {
    v.set_state(v1::EXPECTED_STATE_STREAM_EXISTS);
  } else if (!t.empty() && absl::ascii_isdigit(static_cast<unsigned char>(t[0])) &&
             absl::SimpleAtoi(t, &exact)) {
    v.set_exact(exact);
  } else {
    BadInput(field,
             absl::StrCat("'", text, "' is not a version (a number, any, no-stream or exists)"));
  }
  return v;
}

// --- Ownership ----------------------------------------------------------------

int64_t ParsePercentPpm(absl::string_view field, absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (!absl::ConsumeSuffix(&t, "%")) {
    BadInput(field, absl::StrCat("'", text, "' is not a percentage (write e.g. 27% or 27.5%)"));
  }
  t = absl::StripAsciiWhitespace(t);
  std::string int_digits, frac_digits;
  if (t.empty() || t.find(',') != absl::string_view::npos ||
      !SplitDecimal(t, &int_digits, &frac_digits) || int_digits.size() > 3) {
    BadInput(field, absl::StrCat("'", text, "' is not a percentage (write e.g. 27% or 27.5%)"));
  }
  if (frac_digits.size() > 4) {
    if (frac_digits.find_first_not_of('0', 4) != std::string::npos) {
      BadInput(field, absl::StrCat("'", text, "' is more precise than 0.0001 %"));
    }
    frac_digits.resize(4);
  }
  frac_digits.resize(4, '0');
  int64_t ppm = 0;
  for (char c : int_digits) ppm = ppm * 10 + (c - '0');
  for (char c : frac_digits) ppm = ppm * 10 + (c - '0');
  if (ppm > 1'000'000) BadInput(field, absl::StrCat("'", text, "' is above 100 %"));
  return ppm;
}

v1::OwnershipFraction ParseOwnership(absl::string_view field, absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  const std::string lower = absl::AsciiStrToLower(t);
  v1::OwnershipFraction out;
  struct Open {
    absl::string_view words;
    bool at_least;
  };
  static constexpr Open kOpen[] = {
      {">=", true},         {">", true},          {"at least ", true}, {"more than ", true},
      {"over ", true},      {"<=", false},        {"<", false},        {"up to ", false},
      {"less than ", false}, {"under ", false},
  };
  for (const Open& o : kOpen) {
    if (absl::StartsWith(lower, o.words)) {
      const int64_t ppm = ParsePercentPpm(field, t.substr(o.words.size()));
      out.mutable_range()->set_min_parts_per_million(o.at_least ? ppm : 0);
      out.mutable_range()->set_max_parts_per_million(o.at_least ? 1'000'000 : ppm);
      return out;
    }
  }
  for (absl::string_view sep : {absl::string_view(" to "), absl::string_view("\xE2\x80\x93"),
                                absl::string_view("-")}) {
    const size_t at = lower.find(sep.data(), 0, sep.size());
    if (at == std::string::npos) continue;
    std::string low(absl::StripAsciiWhitespace(t.substr(0, at)));
    const absl::string_view high = t.substr(at + sep.size());
    if (!absl::EndsWith(low, "%")) low += "%";
    const int64_t min = ParsePercentPpm(field, low);
    const int64_t max = ParsePercentPpm(field, high);
    if (min > max) {
      BadInput(field, absl::StrCat("'", text, "': the range's minimum is above its maximum"));
    }
    out.mutable_range()->set_min_parts_per_million(min);
    out.mutable_range()->set_max_parts_per_million(max);
    return out;
  }
  out.mutable_exact()->set_parts_per_million(ParsePercentPpm(field, t));
  return out;
}

// --- Identifiers and text ---------------------------------------------------

namespace {
bool IsSlug(absl::string_view s, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}
}  // namespace

std::string ParseId(absl::string_view field, absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (!IsSlug(t, 100)) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not an id: 1..100 of a-z, 0-9 and '-', starting and "
                                 "ending with a letter or digit (e.g. amazon-openai-2026)"));
  }
  return std::string(t);
}

std::string Slugify(absl::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u)) {
      out.push_back(absl::ascii_tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  if (out.size() > 100) out.resize(100);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string ParseSector(absl::string_view field, absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  if (!IsSlug(t, 64)) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not a sector: 1..64 of a-z, 0-9 and '-' (e.g. "
                                 "ai-foundation-models)"));
  }
  return std::string(t);
}

std::string ParseEventId(absl::string_view field, absl::string_view text) {
  const std::string id = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  bool ok = id.size() == 36;
  bool nil = true;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ok = id[i] == '-';
    } else {
      ok = absl::ascii_isxdigit(static_cast<unsigned char>(id[i]));
      if (id[i] != '0') nil = false;
    }
  }
  if (!ok) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not a UUID (8-4-4-4-12 hex digits, e.g. "
                                 "0b6f2c1e-7d4a-4e8b-9a51-3c2d1f0e9b7a)"));
  }
  if (nil) BadInput(field, "the nil UUID is not an event id");
  return id;
}

std::string NewEventId() { return common::NewRandomUuid(); }

std::string ParseUrl(absl::string_view field, absl::string_view text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  const std::string lower = absl::AsciiStrToLower(t.substr(0, 8));
  const bool scheme = absl::StartsWith(lower, "http://") || absl::StartsWith(lower, "https://");
  bool clean = true;
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) clean = false;
  }
  if (!scheme || !clean || UrlHost(t).empty()) {
    BadInput(field, absl::StrCat("'", text,
                                 "' is not an absolute http(s) URL (e.g. https://example.com/a)"));
  }
  if (t.size() > 2048) BadInput(field, "the URL is longer than 2048 bytes");
  return std::string(t);
}

std::string UrlHost(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return "";
  absl::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  const size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) rest = rest.substr(at + 1);
  if (!absl::StartsWith(rest, "[")) rest = rest.substr(0, rest.find(':'));
  std::string host = absl::AsciiStrToLower(rest);
  if (absl::StartsWith(host, "www.")) host = host.substr(4);
  return host;
}

std::string ParseText(absl::string_view field, absl::string_view text, size_t max_bytes,
                      bool required) {
  if (required && absl::StripAsciiWhitespace(text).empty()) BadInput(field, "must not be empty");
  if (text.size() > max_bytes) {
    BadInput(field, absl::StrCat("is ", text.size(), " bytes long; at most ", max_bytes));
  }
  return std::string(text);
}

}  // namespace dealwire::cli
