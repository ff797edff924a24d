// grove-pg-app: a small JSON API whose data lives in PostgreSQL, the schema brought up to
// date at start-up by numbered migrations (examples/pg_app/migrations, grove::pg::migrate).
//
//   grove-pg-app --database-url "host=127.0.0.1 dbname=app" --bind 127.0.0.1:8000
//   GET /items                     every item, newest first
//   POST /items {"title": "..."}   201 and the new item
//   GET /items/<int:id>            the item, or 404
//   POST /items/<int:id>/done      marks it done (the second migration's column)
//   DELETE /items/<int:id>         204, or 404
//
// Migrations run before the server binds: several instances started together apply each
// one once (an advisory lock), and a failing one stops start-up with exit status 2 and a
// message naming it. The views are coroutines on a grove::pg::Pool.
#include <grove/pg.hpp>
#include <grove/web.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#ifndef GROVE_PG_APP_MIGRATIONS
#define GROVE_PG_APP_MIGRATIONS "migrations"
#endif

namespace aio = grove::aio;
namespace pg = grove::pg;
namespace web = grove::web;
using namespace std::chrono_literals;

namespace {

const char* const kColumns = "id, title, done, created_at::text AS created_at";

web::Json item_json(const pg::Row& row) {
  return web::Json{{"id", row.get<std::int64_t>("id")},
                   {"title", row.get<std::string>("title")},
                   {"done", row.get<bool>("done")},
                   {"created_at", row.get<std::string>("created_at")}};
}

web::Response not_found(std::int64_t id) {
  return web::Response(web::Json{{"error", "no item " + std::to_string(id)}}, 404);
}

aio::Task<web::Response> list_items(std::shared_ptr<pg::Pool> pool) {
  pg::Result r = co_await pool->query(std::string("SELECT ") + kColumns +
                                      " FROM items ORDER BY created_at DESC, id DESC");
  web::Json items = web::Json::array({});
  for (const pg::Row& row : r) items.push_back(item_json(row));
  co_return web::Response(web::Json{{"items", items}});
}

aio::Task<web::Response> create_item(std::shared_ptr<pg::Pool> pool, std::string title) {
  pg::Result r = co_await pool->query(
      std::string("INSERT INTO items (title) VALUES ($1) RETURNING ") + kColumns, title);
  co_return web::Response(item_json(r[0]), 201);
}

aio::Task<web::Response> get_item(std::shared_ptr<pg::Pool> pool, std::int64_t id) {
  pg::Result r =
      co_await pool->query(std::string("SELECT ") + kColumns + " FROM items WHERE id = $1", id);
  if (r.empty()) co_return not_found(id);
  co_return web::Response(item_json(r[0]));
}

aio::Task<web::Response> mark_done(std::shared_ptr<pg::Pool> pool, std::int64_t id) {
  pg::Result r = co_await pool->query(
      std::string("UPDATE items SET done = true WHERE id = $1 RETURNING ") + kColumns, id);
  if (r.empty()) co_return not_found(id);
  co_return web::Response(item_json(r[0]));
}

aio::Task<web::Response> delete_item(std::shared_ptr<pg::Pool> pool, std::int64_t id) {
  pg::Result r = co_await pool->query("DELETE FROM items WHERE id = $1 RETURNING id", id);
  if (r.empty()) co_return not_found(id);
  co_return web::Response("", 204);
}

// The title of a POST /items body, or a 400 naming what is wrong.
std::string title_of(web::Request& req) {
  const web::Json* body = req.get_json(false, true);
  const web::Json* field = body && body->is_object() ? body->find("title") : nullptr;
  if (!field || !field->is_string()) web::abort(400, "send a JSON object with a string \"title\"");
  const std::string& title = field->as_string();
  if (title.empty() || title.size() > 200) web::abort(400, "\"title\" must be 1 to 200 characters");
  return title;
}

void add_routes(web::App& app, std::shared_ptr<pg::Pool> pool) {
  app.route("/items", {"GET"}, [pool] { return list_items(pool); });
  app.route(
      "/items", {"POST"}, [pool](web::Request& req) { return create_item(pool, title_of(req)); },
      "create_item");
  app.route("/items/<int:id>", {"GET"}, [pool](std::int64_t id) { return get_item(pool, id); });
  app.route("/items/<int:id>/done", {"POST"},
            [pool](std::int64_t id) { return mark_done(pool, id); });
  app.route(
      "/items/<int:id>", {"DELETE"}, [pool](std::int64_t id) { return delete_item(pool, id); },
      "delete_item");
}

aio::Task<pg::MigrationReport> run_migrations(std::string url, std::string folder) {
  // Each argument named before the co_await: g++ 12 destroys a temporary made inside a
  // co_await expression twice (docs/aio.md).
  const pg::ConnectionOptions options{.connect_timeout = 10s};
  std::vector<pg::Migration> migrations = pg::migrations_from_directory(folder);
  pg::Connection conn = co_await pg::Connection::connect(url, options);
  co_return co_await pg::migrate(conn, std::move(migrations));
}

std::string versions(const std::vector<std::int64_t>& v) {
  std::string out;
  for (auto n : v) out += (out.empty() ? "" : ", ") + std::to_string(n);
  return out.empty() ? "none" : out;
}

}  // namespace

int main(int argc, char** argv) {
  web::App app("grove-pg-app");
  std::string database_url, migrations = GROVE_PG_APP_MIGRATIONS;
  std::size_t pool_size = 20;

  grove::http::ServeOptions serve;
  serve.description = "grove-pg-app: a JSON API on PostgreSQL, migrated at start-up";
  serve.add_flags = [&](void* cli) {
    auto* c = static_cast<CLI::App*>(cli);
    c->add_option("--database-url", database_url, "PostgreSQL (libpq connection string or URI)")
        ->required();
    c->add_option("--migrations", migrations, "The folder of <version>_<name>.sql migrations");
    c->add_option("--db-pool-size", pool_size, "Connections in the pool (default 20)");
  };
  serve.configure = [&](grove::http::ServerConfig&) {
    // Before binding: a failure here is one line and exit status 2.
    pg::MigrationReport r = aio::run(run_migrations(database_url, migrations));
    std::fprintf(stderr, "grove-pg-app: migrations applied now: %s; already applied: %s\n",
                 versions(r.applied).c_str(), versions(r.already).c_str());
    add_routes(app, std::make_shared<pg::Pool>(pg::PoolOptions{
                        .conninfo = database_url, .max_size = pool_size, .acquire_timeout = 10s}));
  };
  return web::serve(app, argc, argv, std::move(serve));
}
