// grove::pg::migrate: the folder reader, and applying under an advisory lock.
#include <grove/pg/migrate.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace grove::pg {

namespace {

// A stable fingerprint of a script's text (FNV-1a, 64 bits): the same in every build and
// process, which std::hash does not promise.
std::string checksum(const std::string& sql) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : sql) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string label(const Migration& m) { return std::to_string(m.version) + "_" + m.name; }

void check_table_name(const std::string& table) {
  bool ok = !table.empty() && !std::isdigit(static_cast<unsigned char>(table[0]));
  for (char c : table)
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  if (!ok)
    throw std::invalid_argument("grove::pg::migrate: MigrateOptions::table \"" + table +
                                "\" must be a plain lower-case SQL identifier ([a-z_][a-z0-9_]*)");
}

// Sorted by version; a version used twice is an error.
void sort_and_check(std::vector<Migration>& migrations) {
  std::stable_sort(migrations.begin(), migrations.end(),
                   [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < migrations.size(); ++i)
    if (migrations[i].version == migrations[i - 1].version)
      throw MigrationError("grove::pg::migrate: version " + std::to_string(migrations[i].version) +
                           " is used twice (" + label(migrations[i - 1]) + " and " +
                           label(migrations[i]) + ")");
}

aio::Task<void> apply(Connection& conn, const Migration& m, const std::string& table) {
  auto tx = co_await conn.begin();
  try {
    co_await conn.execute(m.sql);
  } catch (const ServerError& e) {
    throw MigrationError(
        "grove::pg::migrate: migration " + label(m) +
            " failed and was rolled back (the ones before it stay applied): " + e.what(),
        e.sqlstate());
  }
  const std::string sum = checksum(m.sql);
  co_await conn.query("INSERT INTO " + table + " (version, name, checksum) VALUES ($1, $2, $3)",
                      m.version, m.name, sum);
  co_await tx.commit();
}

aio::Task<MigrationReport> apply_pending(Connection& conn, const std::vector<Migration>& migrations,
                                         const std::string& table) {
  co_await conn.query("CREATE TABLE IF NOT EXISTS " + table +
                      " (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())");
  Result rows = co_await conn.query("SELECT version, checksum FROM " + table);
  std::map<std::int64_t, std::string> applied;
  for (std::size_t i = 0; i < rows.size(); ++i)
    applied[rows[i].get<std::int64_t>("version")] = rows[i].get<std::string>("checksum");
  MigrationReport report;
  for (const Migration& m : migrations) {
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second != checksum(m.sql))
        throw MigrationError("grove::pg::migrate: migration " + label(m) +
                             " was changed after it was applied; write a new migration instead");
      report.already.push_back(m.version);
      continue;
    }
    co_await apply(conn, m, table);
    report.applied.push_back(m.version);
  }
  co_return report;
}

}  // namespace

std::vector<Migration> migrations_from_directory(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    throw MigrationError("grove::pg::migrations_from_directory: cannot read " + dir.string() +
                         ": " + ec.message());
  std::vector<Migration> out;
  for (const fs::directory_entry& entry : it) {
    if (!entry.is_regular_file()) continue;
    const std::string file = entry.path().filename().string();
    std::size_t digits = 0;
    while (digits < file.size() && std::isdigit(static_cast<unsigned char>(file[digits]))) ++digits;
    const bool named = digits > 0 && digits < 18 && file.size() > digits + 5 &&
                       file[digits] == '_' && entry.path().extension() == ".sql";
    if (!named)
      throw MigrationError("grove::pg::migrations_from_directory: " + entry.path().string() +
                           " is not named <version>_<name>.sql (e.g. 0001_create_notes.sql)");
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream sql;
    sql << in.rdbuf();
    if (!in)
      throw MigrationError("grove::pg::migrations_from_directory: cannot read " +
                           entry.path().string());
    out.push_back({std::stoll(file.substr(0, digits)),
                   file.substr(digits + 1, file.size() - digits - 5), sql.str()});
  }
  sort_and_check(out);
  return out;
}

aio::Task<MigrationReport> migrate(Connection& conn, std::vector<Migration> migrations,
                                   MigrateOptions options) {
  check_table_name(options.table);
  sort_and_check(migrations);
  // Held by this session until unlocked (or the connection ends), across the transactions.
  co_await conn.query("SELECT pg_advisory_lock(hashtext($1))", options.table);
  std::exception_ptr failed;
  MigrationReport report;
  try {
    report = co_await apply_pending(conn, migrations, options.table);
  } catch (...) {
    failed = std::current_exception();
  }
  if (!conn.broken()) co_await conn.query("SELECT pg_advisory_unlock(hashtext($1))", options.table);
  if (failed) std::rethrow_exception(failed);
  co_return report;
}

}  // namespace grove::pg
