// tests/common/sequences.h — expected sequences of positions and versions.
//
//   EXPECT_EQ(PositionsOf(events), Range(1, 10));   // 1, 2, …, 10
//   EXPECT_EQ(PositionsOf(backwards), Range(10, 1)); // 10, 9, …, 1
#pragma once

#include <cstdint>
#include <vector>

namespace dealwire::test_util {

// Returns [from, to] ascending, or descending when from > to.
inline std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t p = from;; from <= to ? ++p : --p) {
    out.push_back(p);
    if (p == to) break;
  }
  return out;
}

}  // namespace dealwire::test_util
