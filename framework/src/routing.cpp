#include <grove/web/routing.hpp>

#include <charconv>
#include <cstdint>
#include <stdexcept>

namespace grove::web {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int weight_of(Rule::Converter c) {
  switch (c) {
    case Rule::Converter::integer:
    case Rule::Converter::number: return 50;
    case Rule::Converter::string:
    case Rule::Converter::uuid: return 100;
    case Rule::Converter::path: return 200;
  }
  return 100;
}

bool valid_identifier(std::string_view s) {
  if (s.empty() || is_digit(s[0])) return false;
  for (char c : s)
    if (!(c == '_' || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return false;
  return true;
}

}  // namespace

// --- ViewArgs ------------------------------------------------------------------------------

const ViewArg* ViewArgs::find(std::string_view name) const {
  for (const auto& a : args_)
    if (a.name == name) return &a;
  return nullptr;
}

const std::string& ViewArgs::operator[](std::string_view name) const {
  if (const ViewArg* a = find(name)) return a->text;
  throw std::out_of_range("the matched rule has no parameter '" + std::string(name) + "'");
}

std::int64_t ViewArgs::get_int(std::string_view name) const {
  const ViewArg* a = find(name);
  if (!a) throw std::out_of_range("the matched rule has no parameter '" + std::string(name) + "'");
  if (a->kind != ViewArg::Kind::integer)
    throw std::invalid_argument("path parameter '" + std::string(name) + "' is not an <int:...>");
  return a->integer;
}

const char* converter_name(Rule::Converter c) noexcept {
  switch (c) {
    case Rule::Converter::string: return "string";
    case Rule::Converter::integer: return "int";
    case Rule::Converter::number: return "float";
    case Rule::Converter::path: return "path";
    case Rule::Converter::uuid: return "uuid";
  }
  return "?";
}

Rule::Rule(std::string rule) : rule_(std::move(rule)) {
  if (rule_.empty() || rule_[0] != '/')
    throw std::invalid_argument("URL rule '" + rule_ + "' must start with '/'");
  std::string_view s = rule_;
  std::string text;
  std::vector<std::string> names;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '>') throw std::invalid_argument("URL rule '" + rule_ + "': unbalanced '>'");
    if (s[i] != '<') {
      text.push_back(s[i++]);
      continue;
    }
    std::size_t close = s.find('>', i);
    if (close == std::string_view::npos)
      throw std::invalid_argument("URL rule '" + rule_ + "': unterminated '<'");
    std::string_view inner = s.substr(i + 1, close - i - 1);
    std::string_view conv = "string", name = inner;
    if (auto colon = inner.find(':'); colon != std::string_view::npos) {
      conv = inner.substr(0, colon);
      name = inner.substr(colon + 1);
    }
    if (!valid_identifier(name))
      throw std::invalid_argument("URL rule '" + rule_ + "': '" + std::string(name) +
                                  "' is not a valid parameter name");
    for (const auto& n : names)
      if (n == name)
        throw std::invalid_argument("URL rule '" + rule_ + "': parameter '" + std::string(name) +
                                    "' appears twice");
    Part p;
    p.is_param = true;
    p.text = std::string(name);
    if (conv == "string" || conv == "default") p.converter = Converter::string;
    else if (conv == "int") p.converter = Converter::integer;
    else if (conv == "float") p.converter = Converter::number;
    else if (conv == "path") p.converter = Converter::path;
    else if (conv == "uuid") p.converter = Converter::uuid;
    else
      throw std::invalid_argument("URL rule '" + rule_ + "': unknown converter '" +
                                  std::string(conv) + "' (known: string, int, float, path, uuid)");
    if (!text.empty()) parts_.push_back(Part{false, std::move(text), Converter::string});
    text.clear();
    if (!parts_.empty() && parts_.back().is_param)
      throw std::invalid_argument("URL rule '" + rule_ +
                                  "': two parameters must be separated by static text");
    names.push_back(p.text);
    weights_.push_back(weight_of(p.converter));
    parts_.push_back(std::move(p));
    ++arity_;
    i = close + 1;
  }
  if (!text.empty()) parts_.push_back(Part{false, std::move(text), Converter::string});
}

Rule::Converter Rule::param_converter(std::size_t i) const {
  for (const auto& p : parts_)
    if (p.is_param && i-- == 0) return p.converter;
  throw std::out_of_range("rule parameter index");
}

const std::string& Rule::param_name(std::size_t i) const {
  for (const auto& p : parts_)
    if (p.is_param && i-- == 0) return p.text;
  throw std::out_of_range("rule parameter index");
}

bool Rule::before(const Rule& other) const {
  // werkzeug: static rules first, then more parts, then lighter converters.
  if ((arity_ == 0) != (other.arity_ == 0)) return arity_ == 0;
  if (parts_.size() != other.parts_.size()) return parts_.size() > other.parts_.size();
  if (weights_ != other.weights_) return weights_ < other.weights_;
  // More static text is more specific.
  std::size_t a = rule_.size(), b = other.rule_.size();
  return a > b;
}

// Matching with several parameters backtracks; what it learns is kept here, so that
// "/<path:a>/<path:b>/<path:c>/end" against a path of thousands of slashes (found by
// fuzz_router: it took minutes) costs about linear time in the path's length.
//  - failed: (part, offset) states known not to match, for typed converters.
//  - splits: for a string or path parameter, where it may end does not depend on where it
//    starts (it accepts any text), only on whether the rest matches from there. An end
//    found not to work is therefore skipped for every start: a union-find per part links it
//    to the next lower end not yet known to fail, so each end is tried at most once.
struct Rule::Memo {
  std::size_t length;        // of the whole path
  std::vector<bool> failed;  // [part * (length + 1) + offset], allocated on first use
  std::vector<std::vector<std::uint32_t>> splits;  // [part][end offset], made on first use

  std::vector<std::uint32_t>& ends_of(std::size_t part, std::size_t parts) {
    if (splits.empty()) splits.resize(parts);
    auto& up = splits[part];
    if (up.empty()) {
      up.resize(length + 1);
      for (std::size_t i = 0; i <= length; ++i) up[i] = std::uint32_t(i);
    }
    return up;
  }
  // The largest end at or below x not known to fail (0: none).
  static std::size_t untried_at_or_below(std::vector<std::uint32_t>& up, std::size_t x) {
    while (up[x] != x) {
      up[x] = up[up[x]];  // path halving
      x = up[x];
    }
    return x;
  }
};

bool Rule::match(std::string_view path, ViewArgs& out) const {
  out.clear();
  if (arity_ == 0) {  // a static rule: its text parts, in order, are the whole path
    for (const Part& part : parts_) {
      if (!path.starts_with(part.text)) return false;
      path.remove_prefix(part.text.size());
    }
    return path.empty();
  }
  Memo failed{path.size(), {}};
  if (!match_from(0, path, out, failed)) return false;
  // Each parameter is added once everything after it has matched: last first.
  ViewArgs in_order;
  for (auto it = out.end(); it != out.begin();) in_order.push_back(*--it);
  out = std::move(in_order);
  return true;
}

namespace {
thread_local std::uint64_t t_match_steps = 0;
}  // namespace

std::uint64_t detail::rule_match_steps() noexcept { return t_match_steps; }

bool Rule::match_from(std::size_t index, std::string_view rest, ViewArgs& out, Memo& memo) const {
  ++t_match_steps;
  if (index == parts_.size()) return rest.empty();
  const Part& part = parts_[index];
  if (!part.is_param) {
    if (rest.substr(0, part.text.size()) != part.text) return false;
    return match_from(index + 1, rest.substr(part.text.size()), out, memo);
  }
  // One parameter cannot backtrack into another: nothing to remember.
  if (arity_ < 2) return match_param(index, rest, out, memo);
  const std::size_t key = index * (memo.length + 1) + (memo.length - rest.size());
  if (!memo.failed.empty() && memo.failed[key]) return false;
  if (match_param(index, rest, out, memo)) return true;
  if (memo.failed.empty()) memo.failed.resize(parts_.size() * (memo.length + 1));
  memo.failed[key] = true;
  return false;
}

bool Rule::match_param(std::size_t index, std::string_view rest, ViewArgs& out, Memo& memo) const {
  const Part& part = parts_[index];
  // The longest candidate this converter could take; then shorter ones (backtracking).
  std::size_t limit = rest.size();
  if (part.converter != Converter::path) {
    std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos) limit = slash;
  }
  const bool any_text = part.converter == Converter::string || part.converter == Converter::path;
  if (any_text && arity_ >= 2 && index + 1 < parts_.size()) {
    // Longest first, as below, skipping ends already known to fail.
    const std::size_t start = memo.length - rest.size();
    auto& up = memo.ends_of(index, parts_.size());
    for (std::size_t end = Memo::untried_at_or_below(up, start + limit); end > start;
         end = Memo::untried_at_or_below(up, end - 1)) {
      if (match_from(index + 1, rest.substr(end - start), out, memo)) {
        ViewArg arg;
        arg.name = part.text;
        arg.text = std::string(rest.substr(0, end - start));
        out.push_back(std::move(arg));
        return true;
      }
      up[end] = std::uint32_t(end - 1);
    }
    return false;
  }
  // The text the next static part starts with narrows the candidates.
  for (std::size_t len = limit; len >= 1; --len) {
    std::string_view cand = rest.substr(0, len);
    if (index + 1 < parts_.size()) {
      const std::string& next = parts_[index + 1].text;
      if (rest.substr(len, next.size()) != next) continue;
    } else if (len != rest.size()) {
      break;  // the last part must take the rest
    }
    ViewArg arg;
    bool ok = true;
    switch (part.converter) {
      case Converter::string:
      case Converter::path: break;
      case Converter::integer: {
        for (char c : cand) ok = ok && is_digit(c);
        if (ok) {
          auto r = std::from_chars(cand.data(), cand.data() + cand.size(), arg.integer);
          ok = r.ec == std::errc() && r.ptr == cand.data() + cand.size();
        }
        arg.kind = ViewArg::Kind::integer;
        arg.number = static_cast<double>(arg.integer);
        break;
      }
      case Converter::number: {
        auto dot = cand.find('.');
        ok = dot != std::string_view::npos && dot > 0 && dot + 1 < cand.size();
        for (std::size_t k = 0; ok && k < cand.size(); ++k) ok = k == dot || is_digit(cand[k]);
        if (ok) {
          auto r = std::from_chars(cand.data(), cand.data() + cand.size(), arg.number);
          ok = r.ec == std::errc();
        }
        arg.kind = ViewArg::Kind::number;
        break;
      }
      case Converter::uuid: {
        static constexpr int groups[] = {8, 4, 4, 4, 12};
        ok = cand.size() == 36;
        std::size_t k = 0;
        for (int g = 0; ok && g < 5; ++g) {
          for (int j = 0; ok && j < groups[g]; ++j) ok = is_hex(cand[k++]);
          if (ok && g < 4) ok = cand[k++] == '-';
        }
        break;
      }
    }
    if (!ok) continue;
    // The strings are made only for the split that matches: a candidate that fails costs
    // no allocation and no copy of its text.
    if (match_from(index + 1, rest.substr(len), out, memo)) {
      arg.name = part.text;
      arg.text = std::string(cand);
      out.push_back(std::move(arg));
      return true;
    }
  }
  return false;
}

}  // namespace grove::web
