// libFuzzer target: the Range field's parser (framework/src/byte_ranges.cpp), as
// send_file() applies it to a file.
//
// Input: bytes 0-1 give the file's size (0..65535), the rest is the field's value.
// Checked, for every input:
//   - satisfiable: 1..kMaxRanges ranges, each inside the file, ascending, disjoint and not
//     touching (coalesced), so the body is never larger than the file; every byte a
//     well-formed spec asks for (and the file has) is in some range, and nothing else is;
//   - unsatisfiable: the field parses as specs none of which is satisfiable;
//   - none: `out` is empty.
// And the spec list re-serialised from what was parsed ("bytes=a-b,...") parses back to
// the same ranges.
#include "byte_ranges.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace detail = grove::web::detail;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_byte_ranges: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

// Which bytes a well-formed spec list asks for, by an independent reading: a simple
// "a-b" / "a-" / "-n" per comma-separated element, digits only. nullopt-like: `ok` false
// when an element is not of that form.
struct Asked {
  bool ok = true;
  std::vector<bool> bytes;
};

Asked asked_bytes(std::string_view value, std::uint64_t size) {
  Asked a;
  a.bytes.assign(size, false);
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view spec = value.substr(start, comma - start);
    while (!spec.empty() && (spec.front() == ' ' || spec.front() == '\t')) spec.remove_prefix(1);
    while (!spec.empty() && (spec.back() == ' ' || spec.back() == '\t')) spec.remove_suffix(1);
    if (!spec.empty()) {
      std::size_t dash = spec.find('-');
      auto digits = [](std::string_view s) {
        return !s.empty() && s.size() < 10 &&
               s.find_first_not_of("0123456789") == std::string_view::npos;
      };
      if (dash == std::string_view::npos) return {false, {}};
      std::string_view x = spec.substr(0, dash), y = spec.substr(dash + 1);
      if (x.empty()) {
        if (!digits(y)) return {false, {}};
        std::uint64_t n = std::stoull(std::string(y));
        for (std::uint64_t i = n >= size ? 0 : size - n; i < size; ++i) a.bytes[i] = true;
      } else {
        if (!digits(x) || (!y.empty() && !digits(y))) return {false, {}};
        std::uint64_t f = std::stoull(std::string(x));
        std::uint64_t l = y.empty() ? UINT64_MAX : std::stoull(std::string(y));
        if (l < f) return {false, {}};
        for (std::uint64_t i = f; i < size && i <= l; ++i) a.bytes[i] = true;
      }
    }
    start = comma + 1;
  }
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t n) {
  if (n < 2) return 0;
  const std::uint64_t size = std::uint64_t(data[0]) << 8 | data[1];
  const std::string field(reinterpret_cast<const char*>(data + 2), n - 2);
  std::vector<detail::ByteRange> out;
  const detail::RangeKind kind = detail::parse_ranges(field, size, out);

  if (kind != detail::RangeKind::satisfiable) {
    CHECK(out.empty());
    return 0;
  }
  CHECK(!out.empty() && out.size() <= detail::kMaxRanges);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].first <= out[i].last && out[i].last < size);
    if (i > 0) CHECK(out[i - 1].last + 1 < out[i].first);  // ascending, not touching
    total += out[i].length();
  }
  CHECK(total <= size);

  // Every asked byte is sent, and nothing else, when the field is of the plain form.
  if (field.starts_with("bytes=")) {
    Asked a = asked_bytes(std::string_view(field).substr(6), size);
    if (a.ok && size <= 4096) {
      std::vector<bool> sent(size, false);
      for (const auto& r : out)
        for (std::uint64_t i = r.first; i <= r.last; ++i) sent[i] = true;
      CHECK(sent == a.bytes);
    }
  }

  // What was parsed, written back as a field, parses to the same ranges.
  std::string again = "bytes=";
  for (const auto& r : out) again += std::to_string(r.first) + "-" + std::to_string(r.last) + ",";
  std::vector<detail::ByteRange> reparsed;
  CHECK(detail::parse_ranges(again, size, reparsed) == detail::RangeKind::satisfiable);
  CHECK(reparsed == out);
  return 0;
}
