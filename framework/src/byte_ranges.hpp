// The Range request field (RFC 9110 §14.1-14.2) against a representation of known size:
// I/O-free, so tests/fuzz/fuzz_byte_ranges.cpp drives it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace grove::web::detail {

// `s` without leading and trailing spaces and tabs (HTTP's optional whitespace).
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One byte range, inclusive: bytes first..last.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const noexcept { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

// More range-specs than this in one field and the field is ignored (the whole
// representation is sent): many small ranges cost more than they save (RFC 9110 §14.2).
inline constexpr std::size_t kMaxRanges = 16;

enum class RangeKind {
  none,           // no usable field: not "bytes", malformed, or more than kMaxRanges specs
  satisfiable,    // `out` holds the ranges to send
  unsatisfiable,  // every spec starts past the end (or is "-0", or the size is 0): 416
};

// Parses `field` against `size` bytes. The satisfiable ranges are clipped to the end, sorted
// and coalesced where they overlap or touch, so `out` is ascending and disjoint with a gap
// between neighbours: every byte at most once, whatever the field asks (overlapping ranges
// cannot multiply the response). Specs unsatisfiable alone are dropped when another is
// satisfiable.
RangeKind parse_ranges(std::string_view field, std::uint64_t size, std::vector<ByteRange>& out);

}  // namespace grove::web::detail
