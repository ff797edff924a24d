// url_for and redirect: building URLs from endpoint names (werkzeug's MapAdapter.build).
#include "internal.hpp"

#include <grove/web/urls.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace grove::web {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void percent(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

// Percent-encodes everything but unreserved characters and `safe` (werkzeug's url_quote).
std::string quote(std::string_view s, std::string_view safe) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (c < 0x80 && safe.find(ch) != std::string_view::npos)) out.push_back(ch);
    else percent(out, c);
  }
  return out;
}

// The sub-delimiters werkzeug leaves alone in a path segment; <path> also keeps '/'.
constexpr std::string_view kSegmentSafe = "!$&'()*+,:;=@";
constexpr std::string_view kPathSafe = "!$&'()*+,:;=@/";

std::string describe(const Json& v) {
  return v.is_string() ? "\"" + v.as_string() + "\"" : v.dump();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (dash ? c != '-' : !hex) return false;
  }
  return true;
}

// A scalar as query or path text: strings as they are, numbers and booleans as JSON.
std::optional<std::string> scalar_text(const Json& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_number() || v.is_bool()) return v.dump();
  return std::nullopt;
}

// The converter's to_url, or nullopt when it cannot take the value.
std::optional<std::string> to_url(Rule::Converter conv, const Json& v) {
  switch (conv) {
    case Rule::Converter::integer:
      if (v.is_int() && v.as_int() >= 0) return std::to_string(v.as_int());
      if (v.is_string() && all_digits(v.as_string())) return v.as_string();
      return std::nullopt;
    case Rule::Converter::number: {
      if (v.is_string()) {
        const std::string& s = v.as_string();
        auto dot = s.find('.');
        if (dot == std::string::npos || dot == 0 || !all_digits(s.substr(0, dot)) ||
            !all_digits(s.substr(dot + 1)))
          return std::nullopt;
        return s;
      }
      if (!v.is_number()) return std::nullopt;
      double d = v.as_double();
      if (!std::isfinite(d) || d < 0) return std::nullopt;
      char buf[400];
      auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
      std::string s(buf, r.ptr);
      if (s.find('.') == std::string::npos) s += ".0";  // the <float> rule needs digits.digits
      return s;
    }
    case Rule::Converter::uuid:
      if (v.is_string() && is_uuid(v.as_string())) return v.as_string();
      return std::nullopt;
    case Rule::Converter::string:
    case Rule::Converter::path: {
      auto text = scalar_text(v);
      if (!text || text->empty()) return std::nullopt;
      return quote(*text, conv == Rule::Converter::path ? kPathSafe : kSegmentSafe);
    }
  }
  return std::nullopt;
}

bool is_option(std::string_view key) {
  return key == "_anchor" || key == "_external" || key == "_scheme" || key == "_method";
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// ".login" -> "<current blueprint>.login" (or "login" outside a blueprint).
std::string resolve_endpoint(std::string_view endpoint) {
  if (endpoint.empty() || endpoint.front() != '.') return std::string(endpoint);
  if (!has_request_context())
    throw BuildError(std::string(endpoint), {},
                     "Could not build url for endpoint '" + std::string(endpoint) +
                         "': a relative endpoint needs a request to know its blueprint; name the "
                         "blueprint ('bp" +
                         std::string(endpoint) + "')");
  const auto& names = request().blueprints();  // innermost first
  std::string dotted;
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    dotted += (dotted.empty() ? "" : ".") + *it;
  return dotted.empty() ? std::string(endpoint.substr(1)) : dotted + std::string(endpoint);
}

// The rule's path with its parameters filled, or the names it lacks.
struct Filled {
  std::string path;
  std::vector<std::string> missing;
};
Filled fill(const detail::RouteEntry& route, const Json& values) {
  Filled out;
  for (const auto& part : route.rule.parts()) {
    if (!part.is_param) {
      out.path += quote(part.text, kPathSafe);
      continue;
    }
    const Json* v = values.find(part.text);
    if (!v || v->is_null()) {
      out.missing.push_back(part.text);
      continue;
    }
    auto text = to_url(part.converter, *v);
    if (!text)
      throw BuildError(route.endpoint, {},
                       "Could not build url for endpoint '" + route.endpoint + "': parameter '" +
                           part.text + "' of rule '" + route.rule.text() + "' is " + describe(*v) +
                           ", which <" + converter_name(part.converter) + ":" + part.text +
                           "> cannot take");
    out.path += *text;
  }
  return out;
}

bool names_param(const detail::RouteEntry& route, std::string_view key) {
  for (const auto& part : route.rule.parts())
    if (part.is_param && part.text == key) return true;
  return false;
}

void append_query(std::string& url, const detail::RouteEntry& route, const Json& values) {
  MultiDict query;
  for (const auto& [key, v] : values.as_object()) {
    if (is_option(key) || names_param(route, key) || v.is_null()) continue;
    auto add = [&](const Json& item) {
      auto text = scalar_text(item);
      if (!text)
        throw BuildError(route.endpoint, {},
                         "Could not build url for endpoint '" + route.endpoint +
                             "': query value '" + key + "' is " + item.dump() +
                             "; give a string, number, boolean or an array of them");
      query.add(key, std::move(*text));
    };
    if (v.is_array())
      for (const auto& item : v.as_array()) add(item);
    else add(v);
  }
  if (!query.empty()) url += "?" + encode_query(query);
}

std::string option_text(const Json& values, std::string_view key) {
  const Json* v = values.find(key);
  if (!v || v->is_null()) return {};
  if (!v->is_string())
    throw std::invalid_argument("url_for: " + std::string(key) + " must be a string");
  return v->as_string();
}

// "scheme://host" for _external.
std::string url_root(const App& app, const Json& values, const std::string& endpoint) {
  std::string scheme = option_text(values, "_scheme");
  std::string host;
  if (has_request_context() && &current_app() == &app) {
    if (scheme.empty()) scheme = request().scheme();
    host = request().host();
  }
  if (host.empty()) host = app.config.get<std::string>("SERVER_NAME", "");
  if (scheme.empty()) scheme = app.config.get<std::string>("PREFERRED_URL_SCHEME", "http");
  if (host.empty())
    throw BuildError(endpoint, {},
                     "Could not build an external url for endpoint '" + endpoint +
                         "' outside a request: set config SERVER_NAME (and PREFERRED_URL_SCHEME)");
  return scheme + "://" + host;
}

}  // namespace

BuildError::BuildError(std::string endpoint, std::vector<std::string> missing, std::string message)
    : std::runtime_error(std::move(message)), endpoint_(std::move(endpoint)),
      missing_(std::move(missing)) {}

std::string url_for(std::string_view endpoint, const Json& values) {
  if (!has_request_context())
    throw std::logic_error(
        "grove::web::url_for(\"" + std::string(endpoint) +
        "\"): working outside of a request; call url_for(app, endpoint, values)");
  return url_for(current_app(), endpoint, values);
}

std::string url_for(const App& app, std::string_view endpoint_in, const Json& values) {
  if (!values.is_object() && !values.is_null())
    throw std::invalid_argument("url_for(\"" + std::string(endpoint_in) +
                                "\"): values must be a JSON object, e.g. {{\"id\", 7}}");
  static const Json kNoValues = Json::object();
  const Json& given = values.is_null() ? kNoValues : values;
  const std::string endpoint = resolve_endpoint(endpoint_in);
  if (given.find("_scheme") && !given.value<bool>("_external", false))
    throw std::invalid_argument("url_for(\"" + endpoint + "\"): _scheme needs _external: true");
  const std::string method = option_text(given, "_method");

  // werkzeug's build order: rules with more parameters first, then registration order.
  std::vector<const detail::RouteEntry*> rules;
  for (const auto& r : app.impl_->routes)
    if (r->endpoint == endpoint) rules.push_back(r.get());
  if (rules.empty())
    throw BuildError(endpoint, {},
                     "Could not build url for endpoint '" + endpoint + "': no such endpoint");
  std::stable_sort(rules.begin(), rules.end(),
                   [](auto* a, auto* b) { return a->rule.arity() > b->rule.arity(); });

  std::vector<std::string> missing;
  for (const detail::RouteEntry* route : rules) {
    if (!method.empty() &&
        std::find(route->methods.begin(), route->methods.end(), method) == route->methods.end())
      continue;
    Filled f = fill(*route, given);
    if (!f.missing.empty()) {
      if (missing.empty() || f.missing.size() < missing.size()) missing = std::move(f.missing);
      continue;
    }
    std::string url = std::move(f.path);
    append_query(url, *route, given);
    if (given.value<bool>("_external", false)) url = url_root(app, given, endpoint) + url;
    if (std::string anchor = option_text(given, "_anchor"); !anchor.empty())
      url += "#" + quote(anchor, "%!#$&'()*+,/:;=?@");
    return url;
  }
  if (missing.empty())
    throw BuildError(endpoint, {},
                     "Could not build url for endpoint '" + endpoint + "' with method " + method +
                         ": no rule of it allows that method");
  throw BuildError(endpoint, missing,
                   "Could not build url for endpoint '" + endpoint +
                       "'. Did you forget to specify values [" + joined_names(missing) + "]?");
}

Response redirect(std::string_view location, int code) {
  if (code < 300 || code > 399)
    throw std::invalid_argument("redirect(\"" + std::string(location) + "\", " +
                                std::to_string(code) +
                                "): a redirect needs a 3xx status (301, 302, 303, 307 or 308)");
  // iri_to_uri: bytes a Location header cannot carry as they are.
  std::string uri;
  for (char ch : location) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80 || c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' ||
        c == '^' || c == '`' || c == '{' || c == '|' || c == '}')
      percent(uri, c);
    else uri.push_back(ch);
  }
  std::string escaped;
  for (char c : uri) {
    if (c == '&') escaped += "&amp;";
    else if (c == '\'') escaped += "&#39;";
    else escaped.push_back(c);
  }
  std::string body =
      "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
      "<p>You should be redirected automatically to the target URL: <a href=\"" +
      escaped + "\">" + escaped + "</a>. If not, click the link.\n";
  Response r(std::move(body), code);
  r.headers.set("Location", std::move(uri));
  return r;
}

}  // namespace grove::web
