// examples/pg_app (grove-pg-app) end to end against the real PostgreSQL: migrations applied
// at the first start and none at the second, the JSON API over HTTP with libcurl, the data
// kept across a restart, and a failing migration stopping start-up with a message naming it.
#include "http_support.hpp"
#include "services.hpp"

#include <grove/aio.hpp>
#include <grove/pg.hpp>

#include <filesystem>
#include <fstream>

using namespace grove::web;
using namespace grove::web::test;

#if defined(GROVE_PG_APP_PATH) && defined(GROVE_DEMO_PATH)

namespace {

// A database of this test's own on the shared server, dropped at the end.
class Database {
 public:
  explicit Database(grove::test::Service& server)
      : server_(server), name_("pgapp_" + std::to_string(::getpid())) {
    admin("DROP DATABASE IF EXISTS " + name_);
    admin("CREATE DATABASE " + name_);
  }
  ~Database() { admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"); }
  std::string url() const { return server_.conninfo_tcp("dbname=" + name_); }

 private:
  void admin(std::string sql) {
    std::string url = server_.conninfo_tcp();
    grove::aio::run([](std::string url, std::string sql) -> grove::aio::Task<void> {
      auto conn = co_await grove::pg::Connection::connect(url);
      co_await conn.query(sql);
    }(url, sql));
  }
  grove::test::Service& server_;
  std::string name_;
};

HttpResult post_json(const DemoProcess& app, const std::string& path, const std::string& body) {
  return http({"POST", app.url(path), {"Content-Type: application/json"}, body});
}

}  // namespace

TEST_CASE("web: examples/pg_app migrates at start-up and serves its JSON API from PostgreSQL",
          "[demo][databases]") {
  auto* pg = grove::test::postgres();
  if (!pg) return;
  Database db(*pg);
  std::int64_t kept_id = 0;
  {
    DemoProcess app({"--database-url", db.url()}, {}, GROVE_PG_APP_PATH);
    CHECK(app.output().find("migrations applied now: 1, 2; already applied: none") !=
          std::string::npos);
    auto milk = post_json(app, "/items", R"({"title": "milk"})");
    REQUIRE(milk.status == 201);
    auto item = Json::parse(milk.body);
    CHECK(item["title"].as_string() == "milk");
    CHECK_FALSE(item["done"].as_bool());  // the second migration's column
    auto bread = Json::parse(post_json(app, "/items", R"({"title": "bread"})").body);
    kept_id = bread["id"].as_int();

    auto done = post_json(app, "/items/" + std::to_string(item["id"].as_int()) + "/done", "");
    REQUIRE(done.status == 200);
    CHECK(Json::parse(done.body)["done"].as_bool());
    auto all = Json::parse(http_get(app.url("/items")).body);
    REQUIRE(all["items"].size() == 2);
    CHECK(all["items"][0]["title"].as_string() == "bread");  // newest first

    CHECK(http({"DELETE", app.url("/items/" + std::to_string(item["id"].as_int()))}).status == 204);
    CHECK(http_get(app.url("/items/" + std::to_string(item["id"].as_int()))).status == 404);
    // Bad input: a 400 that says what to send, and nothing stored.
    auto bad = post_json(app, "/items", R"({"name": "x"})");
    CHECK(bad.status == 400);
    INFO(bad.body);
    CHECK(bad.body.find("send a JSON object with a string") != std::string::npos);
    CHECK(post_json(app, "/items", "not json").status == 400);
    CHECK(Json::parse(http_get(app.url("/items")).body)["items"].size() == 1);
  }
  // Started again: nothing to migrate, and the data is still there.
  DemoProcess again({"--database-url", db.url()}, {}, GROVE_PG_APP_PATH);
  CHECK(again.output().find("migrations applied now: none; already applied: 1, 2") !=
        std::string::npos);
  auto kept = http_get(again.url("/items/" + std::to_string(kept_id)));
  REQUIRE(kept.status == 200);
  CHECK(Json::parse(kept.body)["title"].as_string() == "bread");
}

TEST_CASE("web: examples/pg_app stops at start-up when a migration fails, naming it",
          "[demo][databases]") {
  auto* pg = grove::test::postgres();
  if (!pg) return;
  Database db(*pg);
  char tmpl[] = "/tmp/grove-pgapp-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  std::filesystem::path dir = tmpl;
  std::ofstream(dir / "0001_ok.sql") << "CREATE TABLE t (id int);";
  std::ofstream(dir / "0002_typo.sql") << "CREATE TABEL oops (id int);";
  int status = 0;
  std::string out =
      output_of(std::string(GROVE_PG_APP_PATH) + " --bind 127.0.0.1:0 --database-url '" + db.url() +
                    "' --migrations " + dir.string(),
                &status);
  std::filesystem::remove_all(dir);
  INFO(out);
  CHECK(out.find("migration 2_typo failed and was rolled back") != std::string::npos);
  CHECK(out.find("syntax error") != std::string::npos);
  CHECK(status == 2);
  CHECK(out.find("listening") == std::string::npos);
}

#endif  // GROVE_PG_APP_PATH && GROVE_DEMO_PATH
