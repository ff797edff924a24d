// docs/compat.md's first example, with the includes it names.
#include <grove/compat.hpp>
#include <grove/green.hpp>

#include <curl/curl.h>

CURL* make_request();

int compat_example() {
  grove::compat::patch_all();  // first thing, before creating threads
  for (int i = 0; i < 50; ++i)
    grove::green::spawn([] { curl_easy_perform(make_request()); });  // unmodified libcurl
  return 0;
}
