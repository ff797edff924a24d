// The HTTP/1.1 parser on its own: how much of a request's cost is parsing.
//   build-bench/bench/http/http_parser_bench
#include <grove/http/parser.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

using grove::http::ChunkedDecoder;
using grove::http::RequestHead;
using grove::http::RequestParser;

// What wrk sends.
const std::string kSmall = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

// What a browser sends.
const std::string kBrowser =
    "GET /articles/2024/05/grove-http?ref=home&page=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=8f2d3c4b5a69788796a5b4c3d2e1f0a9; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "\r\n";

void parse_head(benchmark::State& state, const std::string& req) {
  RequestParser parser;
  RequestHead head;
  for (auto _ : state) {
    parser.reset();
    auto st = parser.parse(req, head);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(head.size);
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(req.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_ParseWrkRequest(benchmark::State& state) { parse_head(state, kSmall); }
void BM_ParseBrowserRequest(benchmark::State& state) { parse_head(state, kBrowser); }

void BM_FrameStream16Pipelined(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < 16; ++i) stream += kSmall;
  for (auto _ : state) {
    auto r = grove::http::parse_stream(stream);
    benchmark::DoNotOptimize(r.requests.data());
  }
  state.SetItemsProcessed(std::int64_t(state.iterations()) * 16);
}

void BM_DecodeChunked64KiB(benchmark::State& state) {
  std::string body;
  std::string chunk(4096, 'x');
  for (int i = 0; i < 16; ++i) body += "1000\r\n" + chunk + "\r\n";
  body += "0\r\n\r\n";
  ChunkedDecoder decoder;
  for (auto _ : state) {
    decoder.reset();
    std::string_view in = body;
    std::size_t total = 0;
    while (true) {
      auto r = decoder.decode(in);
      in.remove_prefix(r.consumed);
      total += r.data.size();
      if (r.status != ChunkedDecoder::Status::data) break;
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(body.size()));
}

BENCHMARK(BM_ParseWrkRequest);
BENCHMARK(BM_ParseBrowserRequest);
BENCHMARK(BM_FrameStream16Pipelined);
BENCHMARK(BM_DecodeChunked64KiB);

}  // namespace

BENCHMARK_MAIN();
