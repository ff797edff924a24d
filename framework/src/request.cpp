#include <grove/web/exceptions.hpp>
#include <grove/web/request.hpp>

#include <charconv>
#include <stdexcept>

namespace grove::web {

// --- Request -------------------------------------------------------------------------------

Request::Request(std::string method, std::string_view target, Headers headers, std::string body)
    : method_(std::move(method)), headers_(std::move(headers)), body_(std::move(body)) {
  for (char& c : method_)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  std::size_t q = target.find('?');
  path_ = url_decode(target.substr(0, q));
  if (q != std::string_view::npos) query_ = std::string(target.substr(q + 1));
  if (path_.empty()) path_ = "/";
}

Request::Request(const Parts& parts)
    : method_(parts.method), path_(parts.path.empty() ? std::string_view("/") : parts.path),
      query_(parts.query) {}

Request Request::from_parts(std::string method, std::string path, std::string query,
                            Headers headers) {
  Request r;
  r.method_ = std::move(method);
  r.path_ = path.empty() ? std::string("/") : std::move(path);
  r.query_ = std::move(query);
  r.headers_ = std::move(headers);
  return r;
}

Headers& Request::headers() {
  if (viewed_headers_) {  // the caller may change them: from now on the request has its own
    headers_ = *viewed_headers_;
    viewed_headers_ = nullptr;
  }
  return headers_;
}

const Request::Route& Request::empty_route() noexcept {
  static const Route none;
  return none;
}

std::string Request::full_path() const { return query_.empty() ? path_ : path_ + "?" + query_; }

std::string Request::url() const {
  std::string host = this->host();
  return scheme_ + "://" + (host.empty() ? "localhost" : host) + full_path();
}

const MultiDict& Request::args() const {
  if (!args_) args_ = parse_query(query_);
  return *args_;
}

const MultiDict& Request::cookies() const {
  if (!cookies_) {
    // Several Cookie fields are one list (RFC 6265 §5.4); the first of a name wins.
    std::string joined;
    for (const auto& [k, v] : headers())
      if (iequals(k, "Cookie")) {
        if (!joined.empty()) joined += "; ";
        joined += v;
      }
    cookies_ = parse_cookies(joined);
  }
  return *cookies_;
}

std::optional<std::uint64_t> Request::content_length() const {
  if (declared_length_) return declared_length_;
  auto v = headers().get("Content-Length");
  if (!v)
    return body_loaded_ && !body_.empty() ? std::optional<std::uint64_t>(body_.size())
                                          : std::nullopt;
  std::uint64_t n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size()) return std::nullopt;
  return n;
}

void Request::check_not_streaming(const char* what) const {
  // Only a bridge running a coroutine installs a pump; a body still unread then belongs to
  // a view registered with web::streamed_body, and reading it here would block the hub.
  if (!body_loaded_ && pump_)
    throw std::logic_error(
        std::string(what) +
        " in a coroutine of a view registered with web::streamed_body: its body is still on "
        "the connection, and reading it here would block. Await it: co_await "
        "request.stream().read(n), or co_await request.stream().load() before data(), form(), "
        "files() or json()");
}

const std::string& Request::data() {
  check_not_streaming("request.data()");
  return load_data();
}

const std::string& Request::load_data() {
  if (!body_loaded_) {
    std::size_t limit = max_content_length_.value_or(std::numeric_limits<std::size_t>::max());
    if (declared_length_ && *declared_length_ > limit) {
      body_loaded_ = true;  // do not try again
      throw RequestEntityTooLarge("The data value transmitted exceeds the capacity limit.");
    }
    BodyReader reader = std::move(reader_);
    reader_ = nullptr;
    body_loaded_ = true;
    if (reader) body_ = reader(limit);
  }
  if (max_content_length_ && body_.size() > *max_content_length_)
    throw RequestEntityTooLarge("The data value transmitted exceeds the capacity limit.");
  return body_;
}

void Request::set_body(std::string body) {
  body_ = std::move(body);
  body_loaded_ = true;
  reader_ = nullptr;
}

void Request::set_body_reader(BodyReader reader, std::optional<std::uint64_t> declared_length) {
  reader_ = std::move(reader);
  declared_length_ = declared_length;
  body_loaded_ = !reader_;
  body_.clear();
}

const MultiDict& Request::form() {
  if (!form_) parse_form();
  return *form_;
}

const FileMultiDict& Request::files() {
  if (!files_) parse_form();
  return *files_;
}

bool Request::is_json() const {
  std::string mt = mimetype();
  if (mt == "application/json") return true;
  return mt.starts_with("application/") && mt.ends_with("+json");
}

const Json* Request::get_json(bool force, bool silent) {
  if (json_) return &*json_;
  if (!force && !is_json()) {
    if (silent) return nullptr;
    throw UnsupportedMediaType(
        "Did not attempt to load JSON data because the request Content-Type was not "
        "'application/json'.");
  }
  if (json_failed_) {
    if (silent) return nullptr;
    throw BadRequest("Failed to decode JSON object.");
  }
  try {
    json_ = Json::parse(data());
  } catch (const JsonError& e) {
    json_failed_ = true;
    if (silent) return nullptr;
    throw BadRequest(std::string("Failed to decode JSON object: ") + e.what());
  }
  return &*json_;
}

const Json& Request::json() { return *get_json(false, false); }

}  // namespace grove::web
