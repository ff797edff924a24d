// grove::pg — a PostgreSQL client for coroutines and green threads, on libpq's asynchronous
// API and the running grove::aio loop. Target grove::pg (built when libpq-dev is installed).
//
//   #include <grove/pg.hpp>
//   namespace pg = grove::pg;
//
//   aio::Task<std::string> name_of(pg::Pool& pool, int64_t id) {
//     pg::Result r = co_await pool.query("SELECT name FROM users WHERE id = $1", id);
//     if (r.empty()) co_return "";
//     co_return r[0].get<std::string>("name");
//   }
//   // In a green thread (plain view): green::wait(name_of(pool, 7)).
//
// Errors: ServerError (SQLSTATE and message; the connection stays usable), ConnectionError,
// ResultTooLarge, PoolTimeout, TypeError, MigrationError; all derive from pg::Error. Schema
// migrations at start-up: pg::migrate (grove/pg/migrate.hpp). See docs/clients.md.
#pragma once

#include <grove/pg/connection.hpp>
#include <grove/pg/errors.hpp>
#include <grove/pg/migrate.hpp>
#include <grove/pg/pool.hpp>
#include <grove/pg/result.hpp>
