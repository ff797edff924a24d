#include <grove/web/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>

namespace grove::web {

namespace {

const char* kind_name(Json::Kind k) {
  switch (k) {
    case Json::Kind::null: return "null";
    case Json::Kind::boolean: return "a boolean";
    case Json::Kind::integer: return "an integer";
    case Json::Kind::number: return "a number";
    case Json::Kind::string: return "a string";
    case Json::Kind::array: return "an array";
    case Json::Kind::object: return "an object";
  }
  return "?";
}

[[noreturn]] void wrong_kind(Json::Kind have, const char* want) {
  throw JsonError(std::string("JSON value is ") + kind_name(have) + ", not " + want);
}

}  // namespace

Json::Json(std::initializer_list<Json> init) {
  bool is_object = init.size() > 0;
  for (const Json& j : init) {
    if (!j.is_array() || j.size() != 2 || !j[0].is_string()) {
      is_object = false;
      break;
    }
  }
  if (is_object) {
    Object o;
    o.reserve(init.size());
    for (const Json& j : init) {
      const auto& pair = std::get<Array>(j.v_);
      o.emplace_back(std::get<std::string>(pair[0].v_), pair[1]);
    }
    v_ = std::move(o);
  } else {
    v_ = Array(init);
  }
}

bool Json::as_bool() const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  wrong_kind(kind(), "a boolean");
}

std::int64_t Json::as_int() const {
  if (auto* i = std::get_if<std::int64_t>(&v_)) return *i;
  if (auto* d = std::get_if<double>(&v_)) {
    if (std::trunc(*d) == *d && *d >= -9.2233720368547758e18 && *d < 9.2233720368547758e18)
      return static_cast<std::int64_t>(*d);
    throw JsonError("JSON number " + dump() + " is not an integer");
  }
  wrong_kind(kind(), "an integer");
}

double Json::as_double() const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* i = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*i);
  wrong_kind(kind(), "a number");
}

const std::string& Json::as_string() const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  wrong_kind(kind(), "a string");
}

const Json::Array& Json::as_array() const {
  if (auto* a = std::get_if<Array>(&v_)) return *a;
  wrong_kind(kind(), "an array");
}
Json::Array& Json::as_array() {
  if (auto* a = std::get_if<Array>(&v_)) return *a;
  wrong_kind(kind(), "an array");
}
const Json::Object& Json::as_object() const {
  if (auto* o = std::get_if<Object>(&v_)) return *o;
  wrong_kind(kind(), "an object");
}
Json::Object& Json::as_object() {
  if (auto* o = std::get_if<Object>(&v_)) return *o;
  wrong_kind(kind(), "an object");
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) v_ = Object{};
  auto& o = as_object();
  for (auto& m : o)
    if (m.first == key) return m.second;
  o.emplace_back(std::string(key), Json());
  return o.back().second;
}

const Json& Json::at(std::string_view key) const {
  if (const Json* j = find(key)) return *j;
  if (!is_object()) wrong_kind(kind(), "an object");
  throw JsonError("JSON object has no key \"" + std::string(key) + "\"");
}

const Json* Json::find(std::string_view key) const {
  auto* o = std::get_if<Object>(&v_);
  if (!o) return nullptr;
  for (auto& m : *o)
    if (m.first == key) return &m.second;
  return nullptr;
}

Json& Json::operator[](std::size_t index) {
  auto& a = as_array();
  if (index >= a.size())
    throw JsonError("JSON array index " + std::to_string(index) + " out of range");
  return a[index];
}
const Json& Json::operator[](std::size_t index) const {
  auto& a = as_array();
  if (index >= a.size())
    throw JsonError("JSON array index " + std::to_string(index) + " out of range");
  return a[index];
}

void Json::push_back(Json item) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(item));
}

std::size_t Json::size() const noexcept {
  if (auto* a = std::get_if<Array>(&v_)) return a->size();
  if (auto* o = std::get_if<Object>(&v_)) return o->size();
  return 0;
}

bool operator==(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number() && a.kind() != b.kind()) return a.as_double() == b.as_double();
  return a.v_ == b.v_;
}

// --- serialisation -------------------------------------------------------------------

void json_quote(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void Json::dump_to(std::string& out) const {
  switch (kind()) {
    case Kind::null: out += "null"; break;
    case Kind::boolean: out += std::get<bool>(v_) ? "true" : "false"; break;
    case Kind::integer: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, std::get<std::int64_t>(v_));
      out.append(buf, r.ptr);
      break;
    }
    case Kind::number: {
      double d = std::get<double>(v_);
      if (!std::isfinite(d)) throw JsonError("NaN and infinity cannot be written as JSON");
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
      out += text;
      // Keep it a number with a fraction on the way back (1.0, not 1).
      if (text.find_first_of(".eEn") == std::string_view::npos) out += ".0";
      break;
    }
    case Kind::string: json_quote(out, std::get<std::string>(v_)); break;
    case Kind::array: {
      out.push_back('[');
      bool first = true;
      for (const Json& j : std::get<Array>(v_)) {
        if (!first) out.push_back(',');
        first = false;
        j.dump_to(out);
      }
      out.push_back(']');
      break;
    }
    case Kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, j] : std::get<Object>(v_)) {
        if (!first) out.push_back(',');
        first = false;
        json_quote(out, k);
        out.push_back(':');
        j.dump_to(out);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string Json::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

// --- parsing ---------------------------------------------------------------------------
// Iterative: containers under construction live on an explicit stack, so nesting costs
// heap, not the (possibly 64 KiB green-thread) call stack.

namespace {

class Parser {
 public:
  Parser(std::string_view text, std::size_t max_depth) : s_(text), max_depth_(max_depth) {}

  Json run() {
    struct Frame {
      Json value;       // the array or object being built
      std::string key;  // object: the key whose value is being parsed
    };
    std::vector<Frame> stack;
    Json result;
    skip_ws();
    for (;;) {
      // Parse one value (scalars directly; containers push a frame).
      Json value;
      bool have_value = true;
      char c = peek();
      if (c == '{' || c == '[') {
        if (stack.size() >= max_depth_)
          fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
        ++pos_;
        skip_ws();
        Frame f;
        f.value = c == '{' ? Json::object() : Json::array();
        char close = c == '{' ? '}' : ']';
        if (peek() == close) {
          ++pos_;
          value = std::move(f.value);
        } else {
          if (c == '{') f.key = parse_key();
          stack.push_back(std::move(f));
          have_value = false;
        }
      } else {
        value = scalar();
      }
      if (!have_value) {
        skip_ws();
        continue;
      }
      // Attach the value to the innermost container, closing containers as they end.
      for (;;) {
        if (stack.empty()) {
          skip_ws();
          if (pos_ != s_.size()) fail("unexpected text after the JSON value");
          return value;
        }
        Frame& top = stack.back();
        if (top.value.is_array()) top.value.as_array().push_back(std::move(value));
        else top.value.as_object().emplace_back(std::move(top.key), std::move(value));
        skip_ws();
        char sep = peek();
        if (sep == ',') {
          ++pos_;
          skip_ws();
          if (top.value.is_object()) top.key = parse_key();
          break;  // parse the next element
        }
        char close = top.value.is_array() ? ']' : '}';
        if (sep != close) fail(std::string("expected ',' or '") + close + "'");
        ++pos_;
        value = std::move(top.value);
        stack.pop_back();
      }
      skip_ws();
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw JsonError("invalid JSON at offset " + std::to_string(pos_) + ": " + what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  void expect_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) fail("unexpected character");
    pos_ += w.size();
  }

  std::string parse_key() {
    if (peek() != '"') fail("expected a string key");
    std::string k = parse_string();
    skip_ws();
    if (peek() != ':') fail("expected ':'");
    ++pos_;
    skip_ws();
    return k;
  }

  Json scalar() {
    char c = peek();
    switch (c) {
      case '"': return Json(parse_string());
      case 't': expect_word("true"); return Json(true);
      case 'f': expect_word("false"); return Json(false);
      case 'n': expect_word("null"); return Json(nullptr);
      case '\0':
        if (pos_ >= s_.size()) fail("unexpected end of input");
        fail("unexpected character");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail("unexpected character");
    }
  }

  Json parse_number() {
    std::size_t start = pos_;
    bool integral = true;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      fail("invalid number");
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number: digits must follow '.'");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9'))
        fail("invalid number: digits must follow the exponent");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (integral) {
      std::int64_t i;
      auto r = std::from_chars(b, e, i);
      if (r.ec == std::errc() && r.ptr == e) return Json(i);
      // Too large for int64: fall through to double, as JavaScript would.
    }
    double d;
    auto r = std::from_chars(b, e, d);
    if (r.ec == std::errc::result_out_of_range) fail("number out of range");
    if (r.ec != std::errc() || r.ptr != e) fail("invalid number");
    return Json(d);
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("invalid \\u escape");
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(char(cp));
    } else if (cp < 0x800) {
      out.push_back(char(0xC0 | (cp >> 6)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xE0 | (cp >> 12)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(char(0xF0 | (cp >> 18)));
      out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    }
  }

  // Validates one UTF-8 sequence starting at pos_ (RFC 3629: no overlongs, no surrogates).
  void copy_utf8(std::string& out) {
    auto byte = [&](std::size_t i) -> unsigned {
      return i < s_.size() ? static_cast<unsigned char>(s_[i]) : 0u;
    };
    unsigned c = byte(pos_);
    std::size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c == 0xE0) {
      n = 2;
      lo = 0xA0;
    } else if (c == 0xED) {
      n = 2;
      hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF) n = 2;
    else if (c == 0xF0) {
      n = 3;
      lo = 0x90;
    } else if (c == 0xF4) {
      n = 3;
      hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3) n = 3;
    else fail("invalid UTF-8");
    unsigned b1 = byte(pos_ + 1);
    if (b1 < lo || b1 > hi) fail("invalid UTF-8");
    for (std::size_t i = 2; i <= n; ++i) {
      unsigned b = byte(pos_ + i);
      if (b < 0x80 || b > 0xBF) fail("invalid UTF-8");
    }
    out.append(s_.data() + pos_, n + 1);
    pos_ += n + 1;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c >= 0x80) {
        copy_utf8(out);
        continue;
      }
      if (c != '\\') {
        std::size_t start = pos_;
        while (pos_ < s_.size()) {
          unsigned char d = static_cast<unsigned char>(s_[pos_]);
          if (d == '"' || d == '\\' || d < 0x20 || d >= 0x80) break;
          ++pos_;
        }
        out.append(s_.data() + start, pos_ - start);
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail("unpaired surrogate in \\u escape");
            pos_ += 2;
            unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate in \\u escape");
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("invalid escape");
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t max_depth_;
};

}  // namespace

Json Json::parse(std::string_view text, std::size_t max_depth) {
  return Parser(text, max_depth).run();
}

}  // namespace grove::web
