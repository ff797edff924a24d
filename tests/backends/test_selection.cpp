// Engine selection: built engines, the default, GROVE_LOOP, and unknown names.
#include <grove/loop.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>

using namespace grove;

namespace {
struct EnvGuard {
  explicit EnvGuard(const char* value) {
    if (const char* old = std::getenv("GROVE_LOOP")) saved = old, had = true;
    if (value)
      ::setenv("GROVE_LOOP", value, 1);
    else
      ::unsetenv("GROVE_LOOP");
  }
  ~EnvGuard() {
    if (had)
      ::setenv("GROVE_LOOP", saved.c_str(), 1);
    else
      ::unsetenv("GROVE_LOOP");
  }
  std::string saved;
  bool had = false;
};
}  // namespace

TEST_CASE("every built engine makes a working loop named after it") {
  auto names = built_backends();
  REQUIRE_FALSE(names.empty());
  REQUIRE(std::is_sorted(names.begin(), names.end()));
  for (const auto& name : names) {
    auto loop = make_loop(name);
    REQUIRE(loop->engine() == name);
    bool ran = false;
    loop->call_soon([&] { ran = true; });
    loop->run();
    REQUIRE(ran);
  }
}

TEST_CASE("the default engine is built and used when GROVE_LOOP is unset") {
  EnvGuard env(nullptr);
  auto names = built_backends();
  REQUIRE(std::find(names.begin(), names.end(), default_backend()) != names.end());
  REQUIRE(selected_backend() == default_backend());
  REQUIRE(make_loop()->engine() == default_backend());
}

TEST_CASE("GROVE_LOOP picks another built engine at run time") {
  for (const auto& name : built_backends()) {
    EnvGuard env(name.c_str());
    REQUIRE(selected_backend() == name);
    REQUIRE(make_loop()->engine() == name);
  }
}

TEST_CASE("an engine that was not built is an error listing the built ones") {
  std::string all;
  for (const auto& n : built_backends()) all += (all.empty() ? "" : ", ") + n;
  REQUIRE_THROWS_AS(make_loop("nope"), UnknownEngine);
  REQUIRE_THROWS_WITH(make_loop("nope"), Catch::Contains("'nope'") && Catch::Contains(all));
  EnvGuard env("nope");
  REQUIRE_THROWS_WITH(make_loop(), Catch::Contains("GROVE_LOOP=nope") && Catch::Contains(all));
}

TEST_CASE("register_engine makes a new name selectable") {
  register_engine("test-alias", [] { return make_loop(default_backend()); });
  auto names = built_backends();
  REQUIRE(std::find(names.begin(), names.end(), "test-alias") != names.end());
  REQUIRE(make_loop("test-alias")->engine() == default_backend());
}

TEST_CASE("version is semantic") {
  std::string v(version());
  REQUIRE(std::count(v.begin(), v.end(), '.') == 2);
}
