// libFuzzer target: the session cookie's token format (framework/src/signing.cpp) and the
// JSON its payload holds (framework/src/json.cpp), as SecureCookieSessionInterface reads
// them from a request.
//
// Input: the first byte picks a mode, the rest is the data.
//   - as a cookie value: unsign() must not crash; a token it accepts must be exactly what
//     sign() writes for its payload and timestamp (one encoding per token), and its payload
//     either parses as JSON or is refused as JSON, without crashing;
//   - as a payload: sign() then unsign() gives it back; any single changed byte of the
//     token is refused; a token signed with another key is refused;
//   - base64url: decode(s) succeeds only for text encode() could have written, and
//     encode(decode(s)) == s; decode(encode(bytes)) == bytes.
#include <grove/web/json.hpp>
#include <grove/web/signing.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace web = grove::web;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_session_cookie: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

const web::Signer& signer() {
  static const web::Signer s({"fuzz key", "old fuzz key"});
  return s;
}

void as_cookie(std::string_view token) {
  auto back = signer().unsign(token);
  if (!back) return;
  CHECK(signer().sign(back->payload, back->timestamp) == token ||
        web::Signer({"old fuzz key"}).sign(back->payload, back->timestamp) == token);
  try {
    (void)web::Json::parse(back->payload);
  } catch (const web::JsonError&) {
  }
}

void as_payload(std::string_view payload, std::int64_t ts) {
  std::string token = signer().sign(payload, ts);
  auto back = signer().unsign(token);
  CHECK(back && back->payload == payload && back->timestamp == ts);
  CHECK(!web::Signer({"another key"}).unsign(token));
  std::size_t at = payload.empty() ? 0 : static_cast<unsigned char>(payload[0]) % token.size();
  std::string changed = token;
  changed[at] = changed[at] == 'A' ? 'B' : 'A';
  CHECK(!signer().unsign(changed));
}

void as_base64(std::string_view data) {
  if (auto bytes = web::base64url_decode(data)) CHECK(web::base64url_encode(*bytes) == data);
  auto round = web::base64url_decode(web::base64url_encode(data));
  CHECK(round && *round == data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: as_cookie(rest); break;
    case 1: as_payload(rest, static_cast<std::int64_t>(size) * 1000003); break;
    case 2: as_base64(rest); break;
  }
  return 0;
}
