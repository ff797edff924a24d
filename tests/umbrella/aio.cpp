// docs/aio.md's first example, with only <grove/aio.hpp>.
#include <grove/aio.hpp>
namespace aio = grove::aio;
using namespace std::chrono_literals;

namespace {
aio::Task<std::string> fetch(aio::HttpClient& http, std::string url) {
  aio::HttpResponse r = co_await http.get(url, {}, 2s);
  co_return r.body;
}

aio::Task<int> main_coro() {
  aio::HttpClient http;
  auto [a, b] = co_await aio::gather(fetch(http, "http://127.0.0.1:8080/a"),
                                     fetch(http, "http://127.0.0.1:8080/b"));
  co_return int(a.size() + b.size());
}
}  // namespace

int aio_example() { return aio::run(main_coro()) > 0 ? 0 : 1; }  // GROVE_LOOP picks the engine
