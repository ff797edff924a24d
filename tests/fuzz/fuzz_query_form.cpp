// libFuzzer target: query strings and urlencoded forms (server/src/gateway.cpp's decoder
// and query parser, which the framework's url_decode/parse_query are; the framework's
// encoders, cookies and media types in framework/src/text.cpp).
//
// Input: the bytes of a query string, form body or Cookie header. Checked:
//   - strict and lenient decoding agree whenever the strict one succeeds, and the strict
//     one fails exactly when there is a '%' not followed by two hex digits;
//   - decoding never grows the text; url_decode(url_encode(s)) == s; url_encode emits only
//     unreserved characters and %XX;
//   - the server's and the framework's parse_query give the same pairs; parsing what
//     encode_query wrote gives back the same pairs (the round trip a form makes);
//   - the input cut at every '&' into items, encoded and parsed, comes back unchanged;
//   - cookies: no empty and no repeated names; media_type is lower case without ';'.
#include <grove/http/gateway.hpp>
#include <grove/web/datastructures.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace http = grove::http;
namespace web = grove::web;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_query_form: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

bool hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool well_formed(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
      i += 2;
    }
  return true;
}

void check_encoding(std::string_view s) {
  std::string enc = web::url_encode(s);
  for (std::size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%') {
      CHECK(i + 2 < enc.size() && hex(enc[i + 1]) && hex(enc[i + 2]));
      i += 2;
    } else {
      CHECK(unreserved(static_cast<unsigned char>(enc[i])));
    }
  }
  CHECK(web::url_decode(enc) == s);
  CHECK(web::url_decode(enc, true) == s);
  CHECK(http::url_decode(enc).value() == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  for (bool plus : {false, true}) {
    std::string lenient = http::url_decode_lenient(in, plus);
    CHECK(lenient.size() <= in.size());
    CHECK(web::url_decode(in, plus) == lenient);
    auto strict = http::url_decode(in, plus);
    CHECK(strict.has_value() == well_formed(in));
    if (strict) CHECK(*strict == lenient);
  }
  check_encoding(in);

  auto pairs = http::parse_query(in);
  web::MultiDict dict = web::parse_query(in);
  CHECK(dict.size() == pairs.size());
  std::size_t i = 0;
  for (const auto& item : dict) CHECK(item == pairs[i++]);
  for (const auto& [k, v] : pairs) {
    CHECK(k.size() + v.size() <= in.size());
    check_encoding(k);
  }
  web::MultiDict back = web::parse_query(web::encode_query(dict));
  CHECK(back.items() == dict.items());

  // Items made of raw pieces of the input (any bytes, '&' and '=' included) survive the
  // trip through encode_query and parse_query.
  web::MultiDict raw;
  std::string_view rest = in;
  while (!rest.empty()) {
    std::size_t cut = rest.find('&');
    std::string_view piece = rest.substr(0, cut);
    std::size_t eq = piece.find('=');
    raw.add(std::string(piece.substr(0, eq)),
            eq == std::string_view::npos ? std::string() : std::string(piece.substr(eq + 1)));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  }
  CHECK(web::parse_query(web::encode_query(raw)).items() == raw.items());

  web::MultiDict cookies = web::parse_cookies(in);
  std::set<std::string_view> names;
  for (const auto& [name, value] : cookies.items()) {
    CHECK(!name.empty());
    CHECK(names.insert(name).second);
  }

  std::string mt = web::media_type(in);
  CHECK(mt.find(';') == std::string::npos);
  for (char c : mt) CHECK(!(c >= 'A' && c <= 'Z'));
  return 0;
}
