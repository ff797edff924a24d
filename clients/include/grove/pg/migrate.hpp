// Schema migrations at start-up: numbered SQL scripts, each applied once, in order, in a
// transaction of its own together with its row in a table of applied versions.
//
//   aio::Task<void> prepare(const std::string& url) {
//     pg::Connection conn = co_await pg::Connection::connect(url);
//     pg::MigrationReport r =
//         co_await pg::migrate(conn, pg::migrations_from_directory("migrations"));
//     // r.applied: the versions applied now; r.already: those found applied before
//   }
//
// - Files are named <version>_<name>.sql with a decimal version ("0001_create_notes.sql"),
//   applied in order of version; gaps are allowed. Anything else in the folder is an error,
//   as is a version used twice: MigrationError names the file.
// - Instances starting together are serialised by a session advisory lock keyed on the table
//   name, so each migration runs exactly once.
// - A failing migration is rolled back, and so is its record; the ones before it stay
//   applied; MigrationError names it with the server's message.
// - A migration already applied whose text has changed since is refused (MigrationError):
//   write a new one instead.
// - Each script runs inside a transaction, so it may not BEGIN or COMMIT itself, nor use what
//   PostgreSQL refuses in one (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE before 12).
#pragma once

#include <grove/pg/connection.hpp>
#include <grove/pg/errors.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace grove::pg {

struct Migration {
  std::int64_t version = 0;
  std::string name;  // for messages and the record: "create_notes"
  std::string sql;
};

struct MigrateOptions {
  // The table of applied versions (created if missing): a plain SQL identifier, lower case.
  std::string table = "grove_schema_migrations";
};

struct MigrationReport {
  std::vector<std::int64_t> applied;  // by this call, in order
  std::vector<std::int64_t> already;  // found applied (and unchanged)
};

// A migration that failed, changed after being applied, or a folder that cannot be read.
class MigrationError : public Error {
 public:
  using Error::Error;
};

// The *.sql files of `dir` as migrations, in order of version.
std::vector<Migration> migrations_from_directory(const std::filesystem::path& dir);

// Applies those of `migrations` not yet applied on `conn`'s database.
aio::Task<MigrationReport> migrate(Connection& conn, std::vector<Migration> migrations,
                                   MigrateOptions options);
// With the default options. (An overload, not a default argument: g++ 12 destroys a default
// argument's temporary twice when the call is awaited, docs/aio.md, and this one owns a
// string.)
inline aio::Task<MigrationReport> migrate(Connection& conn, std::vector<Migration> migrations) {
  return migrate(conn, std::move(migrations), MigrateOptions{});
}

}  // namespace grove::pg
