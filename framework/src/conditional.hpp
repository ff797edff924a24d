// Conditional and range requests for a file response (files.cpp builds on it).
#pragma once

#include "byte_ranges.hpp"

#include <grove/web/request.hpp>
#include <grove/web/response.hpp>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace grove::web::detail {

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate).
std::string format_http_date(std::time_t t);
// IMF-fixdate, RFC 850 and asctime forms (RFC 9110 §5.6.7); nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view s);

// Whether an If-None-Match / If-Match list matches `etag` ("*" matches any); `weak`
// comparison ignores W/ prefixes (If-None-Match), strong comparison refuses them.
bool etag_matches(std::string_view list, std::string_view etag, bool weak);

// Applies the request's preconditions and Range to a 200 file response of `size` bytes
// whose ETag and Last-Modified are already set: it becomes a 304 (no body), a 412, a 206
// (one range: its Content-Range and the file body narrowed; several: a multipart/byteranges
// body, RFC 9110 §14.6), a 416, or stays a 200.
void make_conditional(Response& r, const Request& req, std::uint64_t size, std::time_t mtime);

}  // namespace grove::web::detail
