// common/currency.h — the currencies Dealwire accepts in Money values (the
// server refuses others; the CLI refuses them before sending).
//
//   if (!IsIso4217(money.currency_code())) { /* INVALID_ARGUMENT */ }
//
// The table holds the alphabetic codes of ISO 4217 List One (currencies and
// funds) in force in 2024–2025, including codes being phased out but still
// legal tender (ANG, CUC, SLL, ZWL) and their successors (XCG, SLE, ZWG, VED).
// It leaves out XTS (reserved for testing) and XXX ("no currency"), which are
// not money. Withdrawn codes (HRK, VEF, MRO, …) are refused.
#pragma once

#include "absl/strings/string_view.h"

namespace dealwire::common {

// Returns whether `code` is an accepted ISO 4217 alphabetic currency code:
// exactly three upper-case letters, in the table above. Case-sensitive.
bool IsIso4217(absl::string_view code);

}  // namespace dealwire::common
