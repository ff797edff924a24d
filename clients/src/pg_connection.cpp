// grove::pg::Connection: libpq's non-blocking API, each wait an aio readiness await on the
// connection's socket.
#include <grove/pg/connection.hpp>

#include <libpq-fe.h>
#include <poll.h>

#include <cstring>

namespace grove::pg {

struct Result::Builder {
  static void columns(Result& r, const PGresult* res) {
    if (!r.columns_.empty()) return;
    int n = PQnfields(res);
    for (int i = 0; i < n; ++i) r.columns_.emplace_back(PQfname(res, i));
  }
  // Appends the rows of `res`; returns the bytes they hold.
  static std::size_t rows(Result& r, const PGresult* res) {
    std::size_t bytes = 0;
    int fields = PQnfields(res);
    for (int row = 0, n = PQntuples(res); row < n; ++row)
      for (int f = 0; f < fields; ++f) {
        if (PQgetisnull(res, row, f)) {
          r.cells_.emplace_back(std::nullopt);
        } else {
          int len = PQgetlength(res, row, f);
          r.cells_.emplace_back(std::in_place, PQgetvalue(res, row, f), std::size_t(len));
          bytes += std::size_t(len);
        }
      }
    return bytes;
  }
  static void finish(Result& r, const PGresult* res) {
    r.tag_ = PQcmdStatus(const_cast<PGresult*>(res));
    const char* n = PQcmdTuples(const_cast<PGresult*>(res));
    r.affected_ = (n && *n) ? std::strtoll(n, nullptr, 10) : std::int64_t(r.size());
  }
};

Row Result::operator[](std::size_t row) const {
  if (row >= size())
    throw std::out_of_range("grove::pg: row " + std::to_string(row) + " of a result with " +
                            std::to_string(size()) + " rows");
  return Row(*this, row);
}
std::size_t Row::size() const noexcept { return result_->columns_.size(); }
std::size_t Row::column_index(std::string_view name) const {
  for (std::size_t i = 0; i < result_->columns_.size(); ++i)
    if (result_->columns_[i] == name) return i;
  std::string known;
  for (auto& c : result_->columns_) known += (known.empty() ? "" : ", ") + c;
  throw TypeError("grove::pg: no column \"" + std::string(name) +
                  "\" in this result (columns: " + known + ")");
}
const std::optional<std::string>& Row::cell(std::size_t column) const {
  if (column >= result_->columns_.size())
    throw TypeError("grove::pg: column index " + std::to_string(column) + " of a row with " +
                    std::to_string(result_->columns_.size()) + " columns");
  return result_->cells_[index_ * result_->columns_.size() + column];
}

struct Connection::State {
  PGconn* conn = nullptr;
  ConnectionOptions options;
  bool broken = false;
  bool busy = false;
  bool rollback_pending = false;  // a Transaction went out of scope uncommitted

  ~State() {
    if (conn) PQfinish(conn);
  }
  int fd() const { return PQsocket(conn); }
  std::string error() const {
    std::string e = conn ? PQerrorMessage(conn) : "no connection";
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
    return e;
  }
  [[noreturn]] void fail_connection(const std::string& what) {
    broken = true;
    throw ConnectionError("grove::pg: " + what + ": " + error());
  }
  // Abandons the statement in flight: the server is told to cancel it (PQcancel blocks
  // while it connects, so it runs on aio's pool) and this connection is not used again.
  void abandon() noexcept {
    broken = true;
    if (PGcancel* cancel = PQgetCancel(conn)) {
      try {
        aio::detail::submit_to_pool([cancel] {  // fire and forget: nobody awaits it
          char err[256];
          PQcancel(cancel, err, sizeof err);
          PQfreeCancel(cancel);
        });
      } catch (...) {
        PQfreeCancel(cancel);
      }
    }
  }
};

namespace {

// Marks a connection busy for one operation; a second concurrent one is a usage error.
class BusyGuard {
 public:
  explicit BusyGuard(Connection::State* s) : s_(s) {
    if (!s_) throw aio::InvalidStateError("grove::pg: this Connection is empty (moved from?)");
    if (s_->broken)
      throw ConnectionError(
          "grove::pg: this connection is broken (lost, cancelled mid-query or "
          "refused a result); open a new one, or use a pg::Pool");
    if (s_->busy)
      throw aio::InvalidStateError(
          "grove::pg: a query is already running on this connection; "
          "run one at a time, use pipeline(), or a pg::Pool");
    s_->busy = true;
  }
  ~BusyGuard() { s_->busy = false; }

 private:
  Connection::State* s_;
};

ServerError server_error(const PGresult* res) {
  auto field = [&](int code) {
    const char* v = PQresultErrorField(res, code);
    return std::string(v ? v : "");
  };
  std::string message = field(PG_DIAG_MESSAGE_PRIMARY);
  if (message.empty()) message = PQresultErrorMessage(res);
  return ServerError(field(PG_DIAG_SQLSTATE), message, field(PG_DIAG_MESSAGE_DETAIL));
}

// Sends what libpq has buffered.
aio::Task<void> flush(Connection::State& s) {
  for (;;) {
    int r = PQflush(s.conn);
    if (r == 0) co_return;
    if (r < 0) s.fail_connection("sending the query failed");
    co_await aio::wait_writable(s.fd());
  }
}

// Reads until a result is complete (PQisBusy false).
aio::Task<void> await_result(Connection::State& s) {
  while (PQisBusy(s.conn)) {
    co_await aio::wait_readable(s.fd());
    if (!PQconsumeInput(s.conn)) s.fail_connection("the connection was lost");
  }
}

// Reads one statement's results (up to PQgetResult's null) into `out`. A server error is
// returned, not thrown, after the statement's results are drained, so the connection stays
// in step. Limits are checked as rows stream in.
aio::Task<std::optional<ServerError>> read_statement(Connection::State& s, Result& out,
                                                     bool* pipeline_sync = nullptr) {
  std::optional<ServerError> error;
  std::size_t bytes = 0;
  for (;;) {
    co_await await_result(s);
    PGresult* res = PQgetResult(s.conn);
    if (!res) break;
    switch (PQresultStatus(res)) {
      case PGRES_SINGLE_TUPLE:
        Result::Builder::columns(out, res);
        bytes += Result::Builder::rows(out, res);
        if (out.size() > s.options.max_rows || bytes > s.options.max_bytes) {
          PQclear(res);
          s.abandon();
          throw ResultTooLarge("grove::pg: the result exceeded the limit of " +
                               std::to_string(s.options.max_rows) + " rows or " +
                               std::to_string(s.options.max_bytes) +
                               " bytes (ConnectionOptions::max_rows, max_bytes); the query was "
                               "cancelled and the connection discarded");
        }
        break;
      case PGRES_TUPLES_OK:
        Result::Builder::columns(out, res);
        Result::Builder::rows(out, res);
        Result::Builder::finish(out, res);
        break;
      case PGRES_COMMAND_OK: Result::Builder::finish(out, res); break;
      case PGRES_PIPELINE_SYNC:
        if (pipeline_sync) *pipeline_sync = true;
        PQclear(res);
        co_return error;  // a sync is followed by no null result
      case PGRES_PIPELINE_ABORTED:
        if (!error) error = ServerError("", "not run: an earlier statement of the pipeline failed");
        break;
      default:
        if (!error) error = server_error(res);
        break;
    }
    PQclear(res);
  }
  if (PQstatus(s.conn) == CONNECTION_BAD) {
    std::string why = error ? std::string(error->what()) : std::string();
    s.broken = true;
    throw ConnectionError("grove::pg: the connection was lost" + (why.empty() ? "" : ": " + why),
                          error ? error->sqlstate() : "");
  }
  co_return error;
}

// Sends one statement and reads its result; throws ServerError (connection still usable).
aio::Task<Result> run_statement(Connection::State& s, const std::string& sql,
                                const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!PQsendQueryParams(s.conn, sql.c_str(), int(values.size()), nullptr, values.data(), nullptr,
                         nullptr, 0))
    s.fail_connection("could not send the query");
  PQsetSingleRowMode(s.conn);  // rows stream in one by one, so limits bite early
  Result out;
  std::optional<ServerError> error;
  try {
    co_await flush(s);
    error = co_await read_statement(s, out);
  } catch (aio::CancelledError&) {
    s.abandon();
    throw;
  }
  if (error) throw *error;
  co_return out;
}

// Named: g++ 12 mishandles braced temporaries inside a co_await expression (docs/aio.md).
const std::vector<Param> no_params;

aio::Task<void> run_pending_rollback(Connection::State& s) {
  if (!s.rollback_pending) co_return;
  s.rollback_pending = false;
  co_await run_statement(s, "ROLLBACK", no_params);
}

}  // namespace

Connection::Connection() noexcept = default;
Connection::Connection(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

aio::Task<Connection> Connection::connect(std::string conninfo, ConnectionOptions options) {
  auto s = std::make_unique<State>();
  s->options = options;
  s->conn = PQconnectStart(conninfo.c_str());
  if (!s->conn) throw ConnectionError("grove::pg: out of memory starting a connection");
  if (PQstatus(s->conn) == CONNECTION_BAD) s->fail_connection("could not connect");
  auto deadline = Clock::now() + options.connect_timeout;
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) s->fail_connection("could not connect");
    auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
    bool timed_out = left <= Duration::zero();
    if (!timed_out) {
      try {
        if (status == PGRES_POLLING_READING) co_await aio::wait_readable(s->fd(), left);
        else co_await aio::wait_writable(s->fd(), left);
      } catch (aio::TimeoutError&) {
        timed_out = true;
      }
    }
    if (timed_out)
      throw ConnectionError("grove::pg: could not connect within " +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               options.connect_timeout)
                                               .count()) +
                            " ms (ConnectionOptions::connect_timeout)");
    status = PQconnectPoll(s->conn);
  }
  if (PQsetnonblocking(s->conn, 1) != 0)
    s->fail_connection("could not make the connection non-blocking");
  co_return Connection(std::move(s));
}

aio::Task<Result> Connection::query_params(std::string sql, std::vector<Param> params) {
  BusyGuard guard(state_.get());
  co_await run_pending_rollback(*state_);
  co_return co_await run_statement(*state_, sql, params);
}

aio::Task<void> Connection::execute(std::string script) {
  BusyGuard guard(state_.get());
  State& s = *state_;
  co_await run_pending_rollback(s);
  if (!PQsendQuery(s.conn, script.c_str())) s.fail_connection("could not send the script");
  std::optional<ServerError> error;
  try {
    co_await flush(s);
    for (;;) {  // one result per statement, then a null one
      co_await await_result(s);
      PGresult* res = PQgetResult(s.conn);
      if (!res) break;
      ExecStatusType status = PQresultStatus(res);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY &&
          !error)
        error = server_error(res);
      PQclear(res);
    }
  } catch (aio::CancelledError&) {
    s.abandon();
    throw;
  }
  if (PQstatus(s.conn) == CONNECTION_BAD) {
    s.broken = true;
    throw ConnectionError("grove::pg: the connection was lost running a script" +
                          (error ? ": " + std::string(error->what()) : std::string()));
  }
  if (error) throw *error;
}

aio::Task<std::vector<Result>> Connection::pipeline(std::vector<Statement> statements) {
  BusyGuard guard(state_.get());
  State& s = *state_;
  co_await run_pending_rollback(s);
  if (!PQenterPipelineMode(s.conn)) s.fail_connection("could not enter pipeline mode");
  std::vector<Result> results(statements.size());
  std::optional<ServerError> first_error;
  try {
    for (auto& st : statements) {
      std::vector<const char*> values;
      for (auto& p : st.params) values.push_back(p ? p->c_str() : nullptr);
      if (!PQsendQueryParams(s.conn, st.sql.c_str(), int(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0))
        s.fail_connection("could not queue a pipelined statement");
    }
    if (!PQpipelineSync(s.conn)) s.fail_connection("could not end the pipeline");
    co_await flush(s);
    for (auto& r : results) {
      auto error = co_await read_statement(s, r);
      if (error && !first_error) first_error = std::move(error);
    }
    bool synced = false;
    while (!synced) {
      Result ignored;
      co_await read_statement(s, ignored, &synced);
    }
  } catch (aio::CancelledError&) {
    s.abandon();
    throw;
  }
  if (!PQexitPipelineMode(s.conn)) s.fail_connection("could not leave pipeline mode");
  if (first_error) throw *first_error;
  co_return results;
}

aio::Task<Transaction> Connection::begin(std::string mode) {
  co_await query(std::move(mode));
  co_return Transaction(*state_);
}

aio::Task<void> Connection::listen(std::string channel) {
  char* quoted =
      PQescapeIdentifier(state_ ? state_->conn : nullptr, channel.data(), channel.size());
  if (!quoted) throw Error("grove::pg: could not quote the channel name \"" + channel + "\"");
  std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  co_await query(std::move(sql));
}

aio::Task<Notification> Connection::next_notification(Duration timeout) {
  BusyGuard guard(state_.get());
  State& s = *state_;
  auto deadline = timeout == aio::forever ? TimePoint::max() : Clock::now() + timeout;
  for (;;) {
    if (!PQconsumeInput(s.conn)) s.fail_connection("the connection was lost");
    if (PGnotify* n = PQnotifies(s.conn)) {
      Notification out{n->relname, n->extra ? n->extra : "", n->be_pid};
      PQfreemem(n);
      co_return out;
    }
    Duration left = timeout == aio::forever
                        ? aio::forever
                        : std::chrono::duration_cast<Duration>(deadline - Clock::now());
    if (left <= Duration::zero()) throw aio::TimeoutError("grove::pg: no notification in time");
    co_await aio::wait_readable(s.fd(), left);
  }
}

bool Connection::is_open() const noexcept { return state_ && state_->conn; }
bool Connection::broken() const noexcept { return !state_ || state_->broken; }
bool Connection::busy() const noexcept { return state_ && state_->busy; }
int Connection::server_pid() const { return state_ ? PQbackendPID(state_->conn) : 0; }
const ConnectionOptions& Connection::options() const { return state_->options; }

bool Connection::healthy() {
  if (!state_ || state_->broken || state_->busy || PQstatus(state_->conn) != CONNECTION_OK)
    return false;
  // Idle, the server sends nothing unprompted but notices, notifications and its farewell
  // (a shutdown's FATAL, then EOF): readable means look.
  // libpq reads what is there without noticing the end of the stream behind it, so read
  // until the socket is quiet: a closed one fails the read.
  for (int reads = 0; reads < 8; ++reads) {
    pollfd p{state_->fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    if (!PQconsumeInput(state_->conn) || PQstatus(state_->conn) != CONNECTION_OK) {
      state_->broken = true;
      return false;
    }
  }
  PGTransactionStatusType t = PQtransactionStatus(state_->conn);
  if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR) state_->rollback_pending = true;
  return t == PQTRANS_IDLE || t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

Transaction::~Transaction() {
  if (state_) state_->rollback_pending = true;
}

aio::Task<void> Transaction::commit() {
  if (!state_) throw aio::InvalidStateError("grove::pg: this transaction is already over");
  Connection::State* s = std::exchange(state_, nullptr);
  BusyGuard guard(s);
  Result r = co_await run_statement(*s, "COMMIT", no_params);
  // COMMIT of a failed transaction succeeds as ROLLBACK: say so.
  if (r.command_tag() == "ROLLBACK")
    throw ServerError("25P02", "the transaction had failed and was rolled back, not committed");
}

aio::Task<void> Transaction::rollback() {
  if (!state_) throw aio::InvalidStateError("grove::pg: this transaction is already over");
  Connection::State* s = std::exchange(state_, nullptr);
  BusyGuard guard(s);
  co_await run_statement(*s, "ROLLBACK", no_params);
}

}  // namespace grove::pg
