// URL rules: "/user/<int:id>", "/files/<path:rest>", "/hello/<name>".
//
// Converters (werkzeug's names and weights):
//   <name> / <string:name>  one or more characters, no '/'
//   <int:name>              decimal digits, fits in int64 (no sign)
//   <float:name>            digits '.' digits
//   <path:name>             one or more characters, '/' allowed
//   <uuid:name>             8-4-4-4-12 hex digits
// Matching is strict: "/a" and "/a/" are different rules, and there are no redirects.
// When several rules match a path, rules without parameters win, then rules with more
// parts, then the more specific converters (int, float before string, string before path).
#pragma once

#include <grove/web/request.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web {

class Rule {
 public:
  enum class Converter { string, integer, number, path, uuid };
  struct Part {
    bool is_param = false;
    std::string text;  // static text, or the parameter's name
    Converter converter = Converter::string;
  };

  // Throws std::invalid_argument for a malformed rule or an unknown converter.
  explicit Rule(std::string rule);

  const std::string& text() const noexcept { return rule_; }
  const std::vector<Part>& parts() const noexcept { return parts_; }
  std::size_t arity() const noexcept { return arity_; }
  // The converter of the i-th parameter.
  Converter param_converter(std::size_t i) const;
  const std::string& param_name(std::size_t i) const;

  // Matches the whole decoded path; fills `out` with the converted parameters.
  bool match(std::string_view path, ViewArgs& out) const;

  // Orders rules for matching: true if this one should be tried before `other`.
  bool before(const Rule& other) const;

 private:
  // The memo remembers what backtracking learnt (routing.cpp), so that matching with several
  // parameters costs about linear time in the path's length, not exponential time.
  struct Memo;
  bool match_from(std::size_t part, std::string_view rest, ViewArgs& out, Memo& failed) const;
  bool match_param(std::size_t part, std::string_view rest, ViewArgs& out, Memo& failed) const;

  std::string rule_;
  std::vector<Part> parts_;
  std::size_t arity_ = 0;
  std::vector<int> weights_;
};

const char* converter_name(Rule::Converter c) noexcept;

namespace detail {
// Test hook: the matching steps (one part tried at one offset) this thread has taken so far.
// The router's tests count them to check that matching stays linear in the path's length.
std::uint64_t rule_match_steps() noexcept;
}  // namespace detail

}  // namespace grove::web
