// Sessions in a signed cookie, key rotation, cookie attributes, modification tracking,
// refused cookies, flashed messages and a replaceable session interface (Flask's
// test_basic.py session cases and itsdangerous's signer cases, as behaviours).
#include "web_support.hpp"

#include <chrono>
#include <map>

using namespace grove::web;
using namespace grove::web::test;

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void session_views(App& app) {
  app.config["SECRET_KEY"] = "test key";
  app.route("/set/<key>/<value>", [](std::string k, std::string v) {
    session()[k] = v;
    return "set";
  });
  app.route("/get/<key>", [](std::string k) { return session().get<std::string>(k, "(none)"); });
  app.route("/untouched", [] { return "nothing"; });
  app.route("/clear", [] {
    session().clear();
    return "cleared";
  });
  app.route("/permanent", [] {
    session().set_permanent(true);
    session()["p"] = 1;
    return "permanent";
  });
}

}  // namespace

TEST_CASE("web: sessions: a value set in one request is there in the next", "[sessions]") {
  App app;
  session_views(app);
  Browser b(app);
  auto set = b.get("/set/user/ada");
  REQUIRE(set.status == 200);
  std::string cookie = set.headers.get("Set-Cookie", "");
  CHECK(cookie.starts_with("session="));
  CHECK(cookie.find("; Path=/") != std::string::npos);
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("Max-Age") == std::string::npos);  // not permanent: a browser-session cookie
  CHECK(cookie.find("Secure") == std::string::npos);
  CHECK(cookie.find("SameSite") == std::string::npos);
  CHECK(b.get("/get/user").text() == "ada");
  CHECK(b.get("/get/other").text() == "(none)");
  b.get("/set/lang/fr");
  CHECK(b.get("/get/user").text() == "ada");
  CHECK(b.get("/get/lang").text() == "fr");

  // Another client has a session of its own.
  Browser other(app);
  CHECK(other.get("/get/user").text() == "(none)");

  // The payload is readable but not forgeable: it is the session's JSON.
  std::string value = b.jar["session"];
  auto payload = base64url_decode(value.substr(0, value.find('.')));
  REQUIRE(payload);
  CHECK(Json::parse(*payload) == Json{{"user", "ada"}, {"lang", "fr"}});
}

TEST_CASE("web: sessions: the cookie is written only when modified, or permanent and refreshed",
          "[sessions]") {
  App app;
  session_views(app);
  Browser b(app);
  CHECK_FALSE(b.get("/untouched").headers.contains("Set-Cookie"));
  auto read = b.get("/get/x");  // read, empty: nothing to write
  CHECK_FALSE(read.headers.contains("Set-Cookie"));
  CHECK(read.headers.get("Vary", "") == "Cookie");  // what was served depends on the cookie
  CHECK_FALSE(b.get("/untouched").headers.contains("Vary"));

  CHECK(b.get("/set/a/1").headers.contains("Set-Cookie"));
  auto again = b.get("/get/a");
  CHECK(again.text() == "1");
  CHECK_FALSE(again.headers.contains("Set-Cookie"));  // read only
  CHECK_FALSE(b.get("/untouched").headers.contains("Set-Cookie"));

  // Emptying the session deletes the cookie.
  auto cleared = b.get("/clear");
  std::string del = cleared.headers.get("Set-Cookie", "");
  CHECK(del.starts_with("session=;"));
  CHECK(del.find("Max-Age=0") != std::string::npos);
  CHECK(b.jar.empty());
  CHECK(b.get("/get/a").text() == "(none)");
  CHECK_FALSE(b.get("/clear").headers.contains("Set-Cookie"));  // nothing to delete

  // A permanent session carries Max-Age and is refreshed by every request, touched or not.
  app.config["PERMANENT_SESSION_LIFETIME"] = 3600;
  auto perm = b.get("/permanent");
  CHECK(perm.headers.get("Set-Cookie", "").find("; Max-Age=3600") != std::string::npos);
  auto refreshed = b.get("/untouched");
  CHECK(refreshed.headers.get("Set-Cookie", "").find("; Max-Age=3600") != std::string::npos);
  CHECK_FALSE(refreshed.headers.contains("Vary"));  // refreshed, not read by the view
  app.config["SESSION_REFRESH_EACH_REQUEST"] = false;
  CHECK_FALSE(b.get("/untouched").headers.contains("Set-Cookie"));
  CHECK_FALSE(b.get("/get/x").headers.contains("Set-Cookie"));
  CHECK(b.get("/set/p/2").headers.contains("Set-Cookie"));
}

TEST_CASE("web: sessions: cookie attributes come from the config", "[sessions]") {
  App app;
  session_views(app);
  app.config["SESSION_COOKIE_NAME"] = "sid";
  app.config["SESSION_COOKIE_DOMAIN"] = "example.com";
  app.config["SESSION_COOKIE_PATH"] = "/app";
  app.config["SESSION_COOKIE_HTTPONLY"] = false;
  app.config["SESSION_COOKIE_SECURE"] = true;
  app.config["SESSION_COOKIE_SAMESITE"] = "Lax";
  Browser b(app);
  std::string c = b.get("/set/a/1").headers.get("Set-Cookie", "");
  CHECK(c.starts_with("sid="));
  CHECK(c.find("; Domain=example.com") != std::string::npos);
  CHECK(c.find("; Path=/app") != std::string::npos);
  CHECK(c.find("; Secure") != std::string::npos);
  CHECK(c.find("; SameSite=Lax") != std::string::npos);
  CHECK(c.find("HttpOnly") == std::string::npos);
  CHECK(b.get("/get/a").text() == "1");  // read back under the configured name

  std::string d = b.get("/clear").headers.get("Set-Cookie", "");
  CHECK(d.starts_with("sid=;"));
  CHECK(d.find("; Domain=example.com") != std::string::npos);
  CHECK(d.find("; Path=/app") != std::string::npos);

  // A misconfigured attribute is an error naming the key, not a silently wrong cookie.
  LogCapture log(app);
  app.config["SESSION_COOKIE_SAMESITE"] = "lax-ish";
  CHECK(b.get("/set/a/2").status == 500);
  CHECK(log.contains("SESSION_COOKIE_SAMESITE"));
}

TEST_CASE(
    "web: sessions: tampered, foreign, expired, oversized or malformed cookies give an empty "
    "session",
    "[sessions]") {
  App app;
  session_views(app);
  app.logger.set_level(Logger::Level::debug);
  LogCapture log(app);
  Browser b(app);
  b.get("/set/user/ada");
  const std::string good = b.jar["session"];
  REQUIRE(b.get("/get/user").text() == "ada");

  auto read_with = [&](const std::string& cookie) {
    RequestOptions o;
    o.headers.set("Cookie", "session=" + cookie);
    return app.test_client().get("/get/user", std::move(o));
  };
  auto refused = [&](const std::string& cookie, std::string_view why) {
    std::size_t before = log.size();
    auto r = read_with(cookie);
    CHECK(r.status == 200);  // never an error page
    CHECK(r.text() == "(none)");
    CHECK(log.size() == before + 1);
    CHECK(log.contains(why));
  };
  SECTION("a changed payload") {
    std::string forged = base64url_encode(R"({"user":"root"})") + good.substr(good.find('.'));
    refused(forged, "bad signature");
  }
  SECTION("a changed signature") {
    std::string s = good;
    s.back() = s.back() == 'A' ? 'B' : 'A';
    refused(s, "bad signature");
  }
  SECTION("a changed timestamp") {
    auto first = good.find('.'), last = good.rfind('.');
    refused(good.substr(0, first + 1) + "1" + good.substr(first + 1, last - first - 1) +
                good.substr(last),
            "bad signature");
  }
  SECTION("signed with another key") {
    refused(Signer({"other key"}).sign(R"({"user":"ada"})", now_s()), "bad signature");
  }
  SECTION("expired") {
    app.config["PERMANENT_SESSION_LIFETIME"] = 60;
    refused(Signer({"test key"}).sign(R"({"user":"ada"})", now_s() - 61), "expired");
    CHECK(read_with(Signer({"test key"}).sign(R"({"user":"ada"})", now_s() - 30)).text() == "ada");
  }
  SECTION("oversized") { refused(std::string(5000, 'a'), "over 4096"); }
  SECTION("signed but not a JSON object") {
    refused(Signer({"test key"}).sign("[1,2]", now_s()), "not a JSON object");
    refused(Signer({"test key"}).sign("{\"a\":", now_s()), "invalid JSON");
  }
  SECTION("garbage") {
    refused("...", "bad signature");
    refused("no dots at all", "bad signature");
  }
}

TEST_CASE("web: sessions: SECRET_KEY_FALLBACKS are read, the new key signs", "[sessions]") {
  App app;
  session_views(app);
  app.config["SECRET_KEY"] = "old";
  Browser b(app);
  b.get("/set/user/ada");

  app.config["SECRET_KEY"] = "new";
  CHECK(b.get("/get/user").text() == "(none)");  // the old key alone is no longer known
  app.config["SECRET_KEY_FALLBACKS"] = Json::array({"older", "old"});
  CHECK(b.get("/get/user").text() == "ada");
  b.get("/set/lang/fr");  // rewritten: signed with the new key
  CHECK(Signer({"new"}).unsign(b.jar["session"]));
  CHECK_FALSE(Signer({"old"}).unsign(b.jar["session"]));
  app.config["SECRET_KEY_FALLBACKS"] = nullptr;
  CHECK(b.get("/get/user").text() == "ada");
}

TEST_CASE("web: sessions: without SECRET_KEY reading is empty and writing says to set it",
          "[sessions]") {
  App app;
  session_views(app);
  app.config["SECRET_KEY"] = nullptr;
  LogCapture log(app);
  Browser b(app);
  CHECK(b.get("/get/user").text() == "(none)");
  auto w = b.get("/set/user/ada");
  CHECK(w.status == 500);
  CHECK(log.contains("SECRET_KEY"));
  CHECK_FALSE(w.headers.contains("Set-Cookie"));
  CHECK_THROWS_AS(session(), std::logic_error);  // outside a request
}

TEST_CASE("web: sessions: flashed messages reach the next request once, with categories",
          "[sessions]") {
  App app;
  app.config["SECRET_KEY"] = "k";
  app.route("/flash", [] {
    flash("saved");
    flash("disk almost full", "warning");
    return "ok";
  });
  app.route("/show", [] {
    auto first = get_flashed_messages();
    auto second = get_flashed_messages();  // the same for the rest of the request
    std::string out = joined(first) + "|" + joined(second) + "|";
    for (auto& [c, m] : get_flashed_messages_with_categories({"warning"})) out += c + ":" + m;
    return out;
  });
  Browser b(app);
  CHECK(b.get("/show").text() == "||");
  b.get("/flash");
  CHECK(b.get("/show").text() ==
        "saved,disk almost full|saved,disk almost full|warning:disk almost full");
  CHECK(b.get("/show").text() == "||");  // consumed
  // Flashed twice before being shown: both, in order.
  b.get("/flash");
  b.get("/flash");
  CHECK(b.get("/show").text().starts_with("saved,disk almost full,saved,disk almost full|"));
}

namespace {
// A server-side store: the cookie holds only an id.
struct MemoryStore : SessionInterface {
  std::map<std::string, Json> sessions;
  int opened = 0, saved = 0;
  struct Stored : Session {
    std::string id;
    using Session::Session;
  };
  std::unique_ptr<Session> open_session(App& app, Request& request) override {
    ++opened;
    auto id = request.cookies().get(cookie_name(app));
    if (id && sessions.count(*id)) {
      auto s = std::make_unique<Stored>(sessions[*id]);
      s->id = *id;
      return s;
    }
    return std::make_unique<Stored>(Json::object(), true);
  }
  void save_session(App& app, Session& session, Response& response) override {
    ++saved;
    auto& s = static_cast<Stored&>(session);
    if (!should_set_cookie(app, s)) return;
    if (s.id.empty()) s.id = "sid" + std::to_string(sessions.size() + 1);
    sessions[s.id] = s.data();
    response.set_cookie(cookie_name(app), s.id, cookie_options(app, s));
  }
};
}  // namespace

TEST_CASE("web: sessions: a session interface of one's own replaces the cookie", "[sessions]") {
  App app;
  session_views(app);
  app.config["SECRET_KEY"] = nullptr;  // the store needs none
  auto store = std::make_shared<MemoryStore>();
  app.session_interface = store;
  Browser b(app);
  CHECK(b.get("/set/user/ada").status == 200);
  CHECK(b.jar["session"] == "sid1");
  CHECK(store->sessions["sid1"] == Json{{"user", "ada"}});
  CHECK(b.get("/get/user").text() == "ada");
  int opened = store->opened;
  b.get("/untouched");
  CHECK(store->opened == opened + 1);  // opened after the view to see whether to refresh it
  CHECK(b.get("/set/lang/fr").headers.get("Set-Cookie", "").starts_with("session=sid1"));
  CHECK(store->sessions["sid1"] == Json{{"user", "ada"}, {"lang", "fr"}});
}

TEST_CASE("web: signing: tokens round-trip, any change is refused, keys rotate", "[sessions]") {
  Signer s({"key"});
  std::string t = s.sign("payload \x01\xff", 1700000000);
  auto back = s.unsign(t);
  REQUIRE(back);
  CHECK(back->payload == "payload \x01\xff");
  CHECK(back->timestamp == 1700000000);
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::string changed = t;
    changed[i] = changed[i] == 'x' ? 'y' : 'x';
    CHECK_FALSE(s.unsign(changed));
  }
  CHECK_FALSE(s.unsign(t.substr(0, t.size() - 1)));
  CHECK_FALSE(s.unsign(""));
  CHECK_FALSE(Signer({"key"}, "another salt").unsign(t));  // the salt separates token kinds
  CHECK(Signer({"new", "key"}).unsign(t));
  CHECK_FALSE(Signer({"new"}).unsign(t));
  CHECK_THROWS_AS(Signer({}), std::invalid_argument);
  CHECK_THROWS_AS(Signer({""}), std::invalid_argument);

  for (std::string bytes : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff"}) {
    std::string enc = base64url_encode(bytes);
    CHECK(enc.find_first_of("+/=") == std::string::npos);
    CHECK(base64url_decode(enc) == bytes);
  }
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("Zm9v="));  // padding is not base64url here
  CHECK_FALSE(base64url_decode("Z"));      // no length has one leftover character
  CHECK_FALSE(base64url_decode("Zh"));     // non-zero leftover bits: a second encoding of "f"
}
