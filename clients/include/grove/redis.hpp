// grove::redis — a Redis client for coroutines and green threads, on the running grove::aio
// loop: its own RESP2/RESP3 parser (no hiredis), commands with typed replies, pipelines,
// MULTI/EXEC, a pool and pub/sub. Target grove::redis.
//
//   #include <grove/redis.hpp>
//   namespace redis = grove::redis;
//
//   aio::Task<std::int64_t> count_visit(redis::Pool& pool) {
//     redis::Reply r = co_await pool.command("INCR", "visits");
//     co_return r.as_integer();
//   }
//   // In a green thread (plain view): green::wait(count_visit(pool)).
//
// Errors: ServerError (an error reply; the connection stays usable), ConnectionError,
// ProtocolError, ReplyTooLarge, Timeout, PoolTimeout, TypeError; all derive from
// redis::Error. See docs/clients.md.
#pragma once

#include <grove/redis/connection.hpp>
#include <grove/redis/errors.hpp>
#include <grove/redis/pool.hpp>
#include <grove/redis/reply.hpp>
#include <grove/redis/resp.hpp>
#include <grove/redis/subscriber.hpp>
