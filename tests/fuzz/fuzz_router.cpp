// libFuzzer target: the framework's URL rules (framework/src/routing.cpp).
//
// Input, as lines: a rule, a path, a second rule; the bytes after the third newline choose
// parameter values. Checked:
//   - a rule either parses or throws std::invalid_argument (anything else is a bug);
//   - a parsed rule, written back in canonical form, parses to the same parts;
//   - a match fills exactly the rule's parameters, each valid for its converter, and the
//     URL built back from them (url_for's job) is the path that matched; a failed match
//     leaves no arguments behind;
//   - a URL built from valid values matches, and building from what it matched gives the
//     same URL (the values themselves may split differently: "/<a>-<b>" on "/x-y-z");
//   - Rule::before() is a strict order between the two rules (std::sort relies on it).
#include <grove/web/routing.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using grove::web::Rule;
using grove::web::ViewArg;
using grove::web::ViewArgs;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_router: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

bool digit(char c) { return c >= '0' && c <= '9'; }
bool hex(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::optional<Rule> make_rule(std::string_view text) {
  try {
    return Rule(std::string(text));
  } catch (const std::invalid_argument&) {
    return std::nullopt;  // the documented answer to a bad rule
  }
}

// What url_for would build: static text and the parameters' texts, in order.
std::string build(const Rule& rule, const std::vector<std::string>& values) {
  std::string out;
  std::size_t i = 0;
  for (const auto& part : rule.parts()) out += part.is_param ? values.at(i++) : part.text;
  return out;
}

std::string canonical(const Rule& rule) {
  std::string out;
  for (const auto& part : rule.parts()) {
    if (!part.is_param) out += part.text;
    else
      out += std::string("<") + grove::web::converter_name(part.converter) + ":" + part.text + ">";
  }
  return out;
}

void check_arg(const ViewArg& a, Rule::Converter c) {
  CHECK(!a.text.empty());
  switch (c) {
    case Rule::Converter::string:
      CHECK(a.text.find('/') == std::string::npos);
      CHECK(a.kind == ViewArg::Kind::string);
      break;
    case Rule::Converter::path: CHECK(a.kind == ViewArg::Kind::string); break;
    case Rule::Converter::integer: {
      CHECK(a.kind == ViewArg::Kind::integer);
      for (char ch : a.text) CHECK(digit(ch));
      std::int64_t v = -1;
      auto r = std::from_chars(a.text.data(), a.text.data() + a.text.size(), v);
      CHECK(r.ec == std::errc() && v == a.integer && a.integer >= 0);
      break;
    }
    case Rule::Converter::number: {
      CHECK(a.kind == ViewArg::Kind::number);
      auto dot = a.text.find('.');
      CHECK(dot != std::string::npos && dot > 0 && dot + 1 < a.text.size());
      for (std::size_t k = 0; k < a.text.size(); ++k) CHECK(k == dot || digit(a.text[k]));
      break;
    }
    case Rule::Converter::uuid: {
      CHECK(a.text.size() == 36);
      for (std::size_t k = 0; k < 36; ++k)
        CHECK((k == 8 || k == 13 || k == 18 || k == 23) ? a.text[k] == '-' : hex(a.text[k]));
      break;
    }
  }
}

void check_match(const Rule& rule, std::string_view path) {
  ViewArgs args;
  if (!rule.match(path, args)) {
    CHECK(args.size() == 0);
    return;
  }
  CHECK(args.size() == rule.arity());
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    CHECK(args.at(i).name == rule.param_name(i));
    check_arg(args.at(i), rule.param_converter(i));
    texts.push_back(args.at(i).text);
  }
  CHECK(build(rule, texts) == path);
}

// Values valid for each converter, chosen by the input's tail.
struct Chooser {
  std::string_view bytes;
  std::size_t at = 0;
  unsigned char next() { return at < bytes.size() ? static_cast<unsigned char>(bytes[at++]) : 0; }
  std::string text(bool slash) {
    std::size_t n = next() % 8 + 1;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
      char c = char(next());
      if (c == '/' && !slash) c = '_';
      s.push_back(c ? c : 'x');
    }
    return s;
  }
  std::string digits(std::size_t max) {
    std::size_t n = next() % max + 1;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(char('0' + next() % 10));
    return s;
  }
  std::string value(Rule::Converter c) {
    switch (c) {
      case Rule::Converter::string: return text(false);
      case Rule::Converter::path: return text(true);
      case Rule::Converter::integer: return digits(18);  // fits in int64
      case Rule::Converter::number: return digits(6) + "." + digits(6);
      case Rule::Converter::uuid: {
        static const char* hexdigits = "0123456789abcdefABCDEF";
        std::string s;
        for (int k = 0; k < 36; ++k)
          s.push_back((k == 8 || k == 13 || k == 18 || k == 23) ? '-' : hexdigits[next() % 22]);
        return s;
      }
    }
    return "x";
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view line[3];
  for (auto& l : line) {
    std::size_t nl = in.find('\n');
    l = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  }
  std::optional<Rule> rule;
  std::optional<Rule> other;
  try {
    rule = make_rule(line[0]);
    other = make_rule(line[2]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_router: a rule threw %s\n", e.what());
    std::abort();
  }
  if (!rule) return 0;

  CHECK(!rule->text().empty() && rule->text()[0] == '/');
  std::size_t params = 0;
  for (const auto& p : rule->parts()) {
    CHECK(!p.text.empty());
    params += p.is_param;
  }
  CHECK(params == rule->arity());
  try {
    rule->param_name(rule->arity());
    fail("param_name past the arity did not throw");
  } catch (const std::out_of_range&) {
  }

  // The canonical spelling is the same rule.
  std::optional<Rule> canon = make_rule(canonical(*rule));
  CHECK(canon && canon->parts().size() == rule->parts().size());
  for (std::size_t i = 0; i < rule->parts().size(); ++i) {
    const auto& a = rule->parts()[i];
    const auto& b = canon->parts()[i];
    CHECK(a.is_param == b.is_param && a.text == b.text &&
          (!a.is_param || a.converter == b.converter));
  }

  check_match(*rule, line[1]);

  // Build from valid values, match, build again.
  Chooser choose{in};
  std::vector<std::string> values;
  for (std::size_t i = 0; i < rule->arity(); ++i)
    values.push_back(choose.value(rule->param_converter(i)));
  std::string url = build(*rule, values);
  ViewArgs args;
  CHECK(rule->match(url, args));
  std::vector<std::string> texts;
  for (const auto& a : args) texts.push_back(a.text);
  CHECK(build(*rule, texts) == url);
  check_match(*rule, url);

  CHECK(!rule->before(*rule));
  if (other) CHECK(!(rule->before(*other) && other->before(*rule)));
  return 0;
}
