// libcurl's blocking easy API, exactly as a program that knows nothing of grove uses it: the
// compat proofs' client. "200 ok" (status and body), or "curl: <reason> (<detail>)".
//
//   std::string r = fetch("https://localhost:8443/", certs.ca.cert);   // verifying against ca
#pragma once

#include <curl/curl.h>

#include <string>

namespace grove::test {

inline std::size_t collect_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// `ca`: the CAs an https:// URL's certificate must chain to (empty: the system's).
inline std::string fetch(const std::string& url, const std::string& ca = "") {
  CURL* easy = curl_easy_init();
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  if (!ca.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  if (rc != CURLE_OK) return std::string("curl: ") + curl_easy_strerror(rc) + " (" + error + ")";
  return std::to_string(status) + " " + body;
}

}  // namespace grove::test
