// URL building and redirects: url_for(), redirect(), BuildError (Flask's helpers.py and
// werkzeug's MapAdapter.build).
//
// url_for builds the URL of an endpoint from its name and parameter values, so that views
// name each other instead of hard-coding paths:
//
//   app.route("/user/<int:id>", [](std::int64_t id) { ... });          // endpoint "/user/<int:id>"
//   app.route("/login", {"GET"}, login, "login");                      // endpoint "login"
//   web::Blueprint auth("auth", "/auth");
//   auth.route("/login", {"GET"}, login, "login");                     // endpoint "auth.login"
//
//   web::url_for("auth.login")                              -> "/auth/login"
//   web::url_for(".login")            (inside an auth view) -> "/auth/login"
//   web::url_for("user", {{"id", 7}, {"tab", "posts"}})     -> "/user/7?tab=posts"
//   web::url_for("user", {{"id", 7}, {"_anchor", "top"}})   -> "/user/7#top"
//   web::url_for("user", {{"id", 7}, {"_external", true}})  -> "http://example.com/user/7"
//   return web::redirect(web::url_for("auth.login"));       // 302 with Location
//
// Promises:
//  - Values are a JSON object. A value named by the rule fills that parameter through its
//    converter's to_url: <int> takes a non-negative integer (or a string of digits), <float>
//    a finite non-negative number (written with a '.'), <uuid> a UUID string, <string> and
//    <path> any text (percent-encoded; <path> keeps '/'). A value the converter cannot
//    take is a BuildError naming the parameter and the rule.
//  - Other values become the query string, in the order given; an array repeats its key,
//    null is left out. "_anchor", "_external", "_scheme" and "_method" are options, as in
//    Flask: _scheme needs _external; _method picks a rule that accepts that method.
//  - When an endpoint has several rules, the rule with the most parameters that can be
//    filled wins (werkzeug's order), so "/" and "/page/<int:n>" share an endpoint.
//  - ".name" means "name" in the blueprint of the current request (the app's own when the
//    request is not in a blueprint).
//  - An unknown endpoint, or no rule whose parameters are all given, is a BuildError whose
//    message names the endpoint and what is missing.
//  - _external uses the current request's scheme and Host; outside a request it needs
//    config SERVER_NAME (and PREFERRED_URL_SCHEME, default "http"). Without a request,
//    ".name" is a BuildError.
#pragma once

#include <grove/web/json.hpp>
#include <grove/web/response.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web {

class App;

// What url_for throws when it cannot build a URL.
class BuildError : public std::runtime_error {
 public:
  BuildError(std::string endpoint, std::vector<std::string> missing, std::string message);
  // The endpoint as resolved (".login" inside "auth" -> "auth.login").
  const std::string& endpoint() const noexcept { return endpoint_; }
  // The parameters no rule of the endpoint could do without (empty for an unknown endpoint
  // or a value a converter refused).
  const std::vector<std::string>& missing() const noexcept { return missing_; }

 private:
  std::string endpoint_;
  std::vector<std::string> missing_;
};

// The URL of `endpoint` in the app handling the current request (std::logic_error outside
// a request: use url_for(app, ...) there).
std::string url_for(std::string_view endpoint, const Json& values = Json::object());
// The same for a given app; usable outside a request (".name" and _external then need what
// the contract above says).
std::string url_for(const App& app, std::string_view endpoint, const Json& values = Json::object());

// A redirect to `location` (werkzeug's redirect): status `code` (a 3xx; anything else is a
// std::invalid_argument), Location set to `location` with non-ASCII bytes, spaces and
// control characters percent-encoded, and a short HTML body linking to it.
Response redirect(std::string_view location, int code = 302);

}  // namespace grove::web
