// The Range field's byte-range-set (RFC 9110 §14.1.2).
#include "byte_ranges.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace grove::web::detail {
namespace {

std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

enum class Spec { malformed, unsatisfiable, ok };

// One range-spec: "first-last", "first-" or "-suffix".
Spec parse_spec(std::string_view spec, std::uint64_t size, ByteRange& out) {
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return Spec::malformed;
  std::string_view a = trim_ows(spec.substr(0, dash)), b = trim_ows(spec.substr(dash + 1));
  if (a.empty()) {  // the last n bytes
    auto n = parse_digits(b);
    if (!n) return Spec::malformed;
    if (*n == 0 || size == 0) return Spec::unsatisfiable;
    out = {size - std::min(*n, size), size - 1};
    return Spec::ok;
  }
  auto first = parse_digits(a);
  if (!first) return Spec::malformed;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_digits(b);
    if (!l || *l < *first) return Spec::malformed;
    last = std::min(*l, last);
  }
  if (*first >= size) return Spec::unsatisfiable;
  out = {*first, last};
  return Spec::ok;
}

void coalesce(std::vector<ByteRange>& ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& x, const ByteRange& y) { return x.first < y.first; });
  std::size_t kept = 0;
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first <= ranges[kept].last + 1)
      ranges[kept].last = std::max(ranges[kept].last, ranges[i].last);
    else ranges[++kept] = ranges[i];
  }
  ranges.resize(ranges.empty() ? 0 : kept + 1);
}

}  // namespace

RangeKind parse_ranges(std::string_view field, std::uint64_t size, std::vector<ByteRange>& out) {
  out.clear();
  field = trim_ows(field);
  if (!field.starts_with("bytes=")) return RangeKind::none;
  std::string_view set = field.substr(6);
  std::size_t specs = 0;
  bool unsatisfiable = false;
  while (true) {
    std::size_t comma = set.find(',');
    std::string_view spec = trim_ows(set.substr(0, comma));
    if (!spec.empty()) {  // empty list elements are ignored (RFC 9110 §5.6.1)
      if (++specs > kMaxRanges) {
        out.clear();
        return RangeKind::none;
      }
      ByteRange r;
      switch (parse_spec(spec, size, r)) {
        case Spec::malformed: out.clear(); return RangeKind::none;
        case Spec::unsatisfiable: unsatisfiable = true; break;
        case Spec::ok: out.push_back(r); break;
      }
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (!out.empty()) {
    coalesce(out);
    return RangeKind::satisfiable;
  }
  return unsatisfiable ? RangeKind::unsatisfiable : RangeKind::none;
}

}  // namespace grove::web::detail
