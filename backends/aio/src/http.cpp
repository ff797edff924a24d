// The HTTP client: libcurl's multi-socket interface bound to an EventLoop.
//
// libcurl tells us which sockets to watch (socket callback) and when to call it back
// (timer callback); we map those onto IoWatchers and one Timer and feed readiness back
// with curl_multi_socket_action(). Finished transfers are collected after every action.
#include <grove/aio/http.hpp>

#include <grove/aio/combinators.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <unordered_set>

namespace grove::aio {

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  auto same = [&](const std::string& n) {
    return std::equal(n.begin(), n.end(), name.begin(), name.end(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) ==
             std::tolower(static_cast<unsigned char>(b));
    });
  };
  for (const auto& [n, v] : headers)
    if (same(n)) return v;
  return std::nullopt;
}

namespace detail {

class Transfer;
struct TransferTag {};

class CurlMulti {
 public:
  explicit CurlMulti(EventLoop& loop);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  EventLoop& loop() const noexcept { return loop_; }
  void add(Transfer& t);
  void remove(Transfer& t) noexcept;
  std::size_t active() const noexcept { return active_; }

 private:
  struct Watch {
    IoWatcher watcher;
  };
  static int socket_callback(CURL*, curl_socket_t s, int what, void* self, void* watch);
  static int timer_callback(CURLM*, long timeout_ms, void* self);
  void on_socket(curl_socket_t s, int what, Watch* watch);
  void on_timer(long timeout_ms);
  void action(curl_socket_t s, int mask);
  void collect_done();
  // Watchers and the timer keep the loop alive only while transfers run (libcurl may keep
  // idle connections and timers around).
  void set_referenced(bool referenced);

  EventLoop& loop_;
  CURLM* multi_;
  Timer timer_;
  std::unordered_set<Watch*> watches_;
  List<Transfer, TransferTag> transfers_;
  std::size_t active_ = 0;
};

// One request: the easy handle, its buffers, and the await that waits for its end.
class Transfer : public Wait, public Hook<TransferTag> {
 public:
  Transfer(CurlMulti& multi, HttpRequest request);
  ~Transfer();
  Transfer(const Transfer&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    TaskCore* task = task_of(h);
    if (task && &task->loop() != &multi_->loop())
      throw InvalidStateError(
          "grove::aio::HttpClient: used from a task of another loop; "
          "create the client on the loop that uses it");
    if (task) multi_->add(*this);  // may throw: before begin()
    begin_in(task, h);
    end_setup();
  }
  HttpResponse await_resume();

 private:
  friend class CurlMulti;
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  void done(CURLcode code);
  void abandon(const char* why);  // the client goes away under the transfer
  void withdraw() noexcept override;
  std::string label() const { return request_.method + " " + request_.url; }
  // The host the transfer went to (for certificate errors).
  std::string host() const {
    char* h = nullptr;
    curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &h);
    std::string out;
    if (CURLU* u = curl_url()) {
      char* part = nullptr;
      if (curl_url_set(u, CURLUPART_URL, h ? h : request_.url.c_str(), 0) == CURLUE_OK &&
          curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK)
        out = part;
      curl_free(part);
      curl_url_cleanup(u);
    }
    return out.empty() ? request_.url : out;
  }

  CurlMulti* multi_;
  HttpRequest request_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  HttpResponse response_;
  CURLcode code_ = CURLE_OK;
  bool added_ = false;
  char error_[CURL_ERROR_SIZE] = {};
};

// --- CurlMulti -----------------------------------------------------------------------------
namespace {
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("grove::aio::HttpClient: curl_global_init failed");
  });
}
}  // namespace

CurlMulti::CurlMulti(EventLoop& loop) : loop_(loop) {
  init_curl_once();
  multi_ = curl_multi_init();
  if (!multi_) throw std::runtime_error("grove::aio::HttpClient: curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::socket_callback);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::timer_callback);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlMulti::~CurlMulti() {
  while (!transfers_.empty()) transfers_.front().abandon("the HttpClient was destroyed");
  curl_multi_cleanup(multi_);
  timer_.cancel();
  for (Watch* w : watches_) delete w;
}

void CurlMulti::add(Transfer& t) {
  if (CURLMcode rc = curl_multi_add_handle(multi_, t.easy_); rc != CURLM_OK)
    throw HttpError("grove::aio::http: " + t.label() + ": " + curl_multi_strerror(rc),
                    t.request_.url, int(rc));
  t.added_ = true;
  transfers_.push_back(t);
  if (active_++ == 0) set_referenced(true);
}

void CurlMulti::remove(Transfer& t) noexcept {
  if (!t.added_) return;
  t.added_ = false;
  static_cast<Hook<TransferTag>&>(t).unlink();
  curl_multi_remove_handle(multi_, t.easy_);
  if (--active_ == 0) set_referenced(false);
}

void CurlMulti::set_referenced(bool referenced) {
  for (Watch* w : watches_) referenced ? w->watcher.ref() : w->watcher.unref();
  if (timer_) referenced ? timer_.ref() : timer_.unref();
}

int CurlMulti::socket_callback(CURL*, curl_socket_t s, int what, void* self, void* watch) {
  static_cast<CurlMulti*>(self)->on_socket(s, what, static_cast<Watch*>(watch));
  return 0;
}

int CurlMulti::timer_callback(CURLM*, long timeout_ms, void* self) {
  static_cast<CurlMulti*>(self)->on_timer(timeout_ms);
  return 0;
}

void CurlMulti::on_socket(curl_socket_t s, int what, Watch* watch) {
  if (what == CURL_POLL_REMOVE) {
    if (watch) {
      watches_.erase(watch);
      delete watch;  // closes the watcher (safe inside its own callback)
      curl_multi_assign(multi_, s, nullptr);
    }
    return;
  }
  Events events = Events::none;
  if (what & CURL_POLL_IN) events |= Events::read;
  if (what & CURL_POLL_OUT) events |= Events::write;
  if (watch) {
    watch->watcher.set_events(events);
    if (!watch->watcher.active()) watch->watcher.start();
    return;
  }
  watch = new Watch;
  try {
    watch->watcher = loop_.watch(s, events, [this, s](Events e) {
      int mask = 0;
      if (any(e & Events::read)) mask |= CURL_CSELECT_IN;
      if (any(e & Events::write)) mask |= CURL_CSELECT_OUT;
      if (any(e & Events::closed)) mask |= CURL_CSELECT_ERR;
      action(s, mask);
    });
  } catch (...) {
    delete watch;  // libcurl finds the socket broken on its own and fails the transfer
    return;
  }
  if (active_ == 0) watch->watcher.unref();
  watches_.insert(watch);
  curl_multi_assign(multi_, s, watch);
}

void CurlMulti::on_timer(long timeout_ms) {
  timer_.cancel();
  if (timeout_ms < 0) return;
  // Never call libcurl back from inside its own callback: a 0 ms timer runs next iteration.
  timer_ = loop_.call_later(std::chrono::milliseconds(timeout_ms),
                            [this] { action(CURL_SOCKET_TIMEOUT, 0); });
  if (active_ == 0) timer_.unref();
}

void CurlMulti::action(curl_socket_t s, int mask) {
  int running = 0;
  curl_multi_socket_action(multi_, s, mask, &running);
  collect_done();
}

void CurlMulti::collect_done() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    const CURLcode code = msg->data.result;
    remove(*t);  // invalidates msg
    t->done(code);
  }
}

// --- Transfer ------------------------------------------------------------------------------
namespace {
template <class T>
void set(CURL* easy, CURLoption option, T value) {
  curl_easy_setopt(easy, option, value);
}
}  // namespace

Transfer::Transfer(CurlMulti& multi, HttpRequest request)
    : multi_(&multi), request_(std::move(request)) {
  easy_ = curl_easy_init();
  if (!easy_)
    throw HttpError("grove::aio::http: " + label() + ": curl_easy_init failed", request_.url,
                    CURLE_FAILED_INIT);
  set(easy_, CURLOPT_URL, request_.url.c_str());
  set(easy_, CURLOPT_PRIVATE, this);
  set(easy_, CURLOPT_NOSIGNAL, 1L);
  set(easy_, CURLOPT_ERRORBUFFER, error_);
  set(easy_, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_1_1));
  set(easy_, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  set(easy_, CURLOPT_WRITEDATA, this);
  set(easy_, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  set(easy_, CURLOPT_HEADERDATA, this);
  set(easy_, CURLOPT_FOLLOWLOCATION, request_.follow_redirects ? 1L : 0L);
  if (request_.timeout != forever)
    set(easy_, CURLOPT_TIMEOUT_MS,
        long(std::max<std::int64_t>(
            1, std::chrono::ceil<std::chrono::milliseconds>(request_.timeout).count())));

  const HttpRequest::Tls& tls = request_.tls;
  if (!tls.ca_file.empty()) set(easy_, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) set(easy_, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) set(easy_, CURLOPT_SSLKEY, tls.key_file.c_str());
  set(easy_, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  set(easy_, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);

  const std::string& m = request_.method;
  if (m == "GET") {
    set(easy_, CURLOPT_HTTPGET, 1L);
  } else if (m == "HEAD") {
    set(easy_, CURLOPT_NOBODY, 1L);
  } else if (m == "POST") {
    set(easy_, CURLOPT_POST, 1L);
  } else {
    set(easy_, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  if (!request_.body.empty() || m == "POST" || m == "PUT" || m == "PATCH") {
    set(easy_, CURLOPT_POSTFIELDS, request_.body.data());
    set(easy_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request_.body.size()));
  }
  for (const auto& [name, value] : request_.headers)
    headers_ = curl_slist_append(headers_, (name + ": " + value).c_str());
  // No "Expect: 100-continue" round trip before large bodies.
  headers_ = curl_slist_append(headers_, "Expect:");
  set(easy_, CURLOPT_HTTPHEADER, headers_);
}

Transfer::~Transfer() {
  withdraw();
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

void Transfer::withdraw() noexcept {
  if (added_ && multi_) multi_->remove(*this);
}

std::size_t Transfer::on_body(char* data, std::size_t size, std::size_t n, void* self) {
  static_cast<Transfer*>(self)->response_.body.append(data, size * n);
  return size * n;
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    t->response_.headers.clear();  // a new response (after 1xx or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    t->response_.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return size * n;
}

void Transfer::done(CURLcode code) {
  code_ = code;
  wake();
}

void Transfer::abandon(const char* why) {
  multi_->remove(*this);
  multi_ = nullptr;
  fail(std::make_exception_ptr(HttpError("grove::aio::http: " + label() + ": " + why, request_.url,
                                         CURLE_ABORTED_BY_CALLBACK)));
}

HttpResponse Transfer::await_resume() {
  finish();
  if (code_ == CURLE_OPERATION_TIMEDOUT)
    throw TimeoutError("grove::aio::http: " + label() + " timed out after " +
                       format_duration(request_.timeout) +
                       (error_[0] ? " (" + std::string(error_) + ")" : std::string()));
  if (code_ == CURLE_PEER_FAILED_VERIFICATION)
    throw HttpError("grove::aio::http: " + label() + ": the certificate of " + host() +
                        " was not accepted: " + (error_[0] ? error_ : curl_easy_strerror(code_)),
                    request_.url, int(code_));
  if (code_ != CURLE_OK)
    throw HttpError("grove::aio::http: " + label() + ": " + curl_easy_strerror(code_) +
                        (error_[0] ? " (" + std::string(error_) + ")" : std::string()),
                    request_.url, int(code_));
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  response_.status = status;
  return std::move(response_);
}

Task<HttpResponse> perform(CurlMulti& multi, HttpRequest request) {
  Transfer transfer(multi, std::move(request));
  co_return co_await transfer;
}

}  // namespace detail

// --- HttpClient ----------------------------------------------------------------------------
HttpClient::HttpClient() : HttpClient(get_running_loop()) {}
HttpClient::HttpClient(EventLoop& loop) : multi_(std::make_unique<detail::CurlMulti>(loop)) {}
HttpClient::~HttpClient() = default;

std::size_t HttpClient::active() const noexcept { return multi_->active(); }

Task<HttpResponse> HttpClient::request(HttpRequest request) {
  return detail::perform(*multi_, std::move(request));
}

Task<HttpResponse> HttpClient::get(std::string url, HttpHeaders headers, Duration timeout) {
  HttpRequest r("GET", std::move(url));
  r.headers = std::move(headers);
  r.timeout = timeout;
  return request(std::move(r));
}

Task<HttpResponse> HttpClient::post(std::string url, std::string body, HttpHeaders headers,
                                    Duration timeout) {
  HttpRequest r("POST", std::move(url));
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.timeout = timeout;
  return request(std::move(r));
}

namespace {
// The loop of the task calling (the running loop of the context outside tasks).
EventLoop& loop_of(detail::TaskCore* task) { return task ? task->loop() : get_running_loop(); }
}  // namespace

Task<HttpResponse> http_request(HttpRequest request) {
  HttpClient client(loop_of(co_await detail::CurrentTask{}));
  co_return co_await client.request(std::move(request));
}

Task<HttpResponse> http_get(std::string url, HttpHeaders headers, Duration timeout) {
  HttpClient client(loop_of(co_await detail::CurrentTask{}));
  co_return co_await client.get(std::move(url), std::move(headers), timeout);
}

Task<HttpResponse> http_post(std::string url, std::string body, HttpHeaders headers,
                             Duration timeout) {
  HttpClient client(loop_of(co_await detail::CurrentTask{}));
  co_return co_await client.post(std::move(url), std::move(body), std::move(headers), timeout);
}

}  // namespace grove::aio
