// Engine selection: the engines compiled in (grove_config.hpp, from CMake), engines registered
// at run time (greenlet's `green`), GROVE_LOOP, and the build default.
#include "core_loop.hpp"
#include "grove_config.hpp"

#include <grove/diagnostics.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

namespace grove {

namespace {

std::unique_ptr<EventLoop> core_loop_of(detail::PollerFactory make) {
  return detail::make_core_loop(make());
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, EngineFactory, std::less<>> engines;

  Registry() {
#if GROVE_HAVE_ASIO
    engines["asio"] = [] { return core_loop_of(&detail::make_asio_poller); };
#endif
#if GROVE_HAVE_LIBEV
    engines["libev"] = [] { return core_loop_of(&detail::make_libev_poller); };
#endif
#if GROVE_HAVE_LIBEVENT
    engines["libevent"] = [] { return core_loop_of(&detail::make_libevent_poller); };
#endif
#if GROVE_HAVE_IO_URING
    engines["io_uring"] = [] { return core_loop_of(&detail::make_io_uring_poller); };
#endif
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<std::string> built_engines() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : r.engines) names.push_back(name);
  return names;
}

std::string default_engine() { return GROVE_DEFAULT_ENGINE; }

std::string selected_engine() {
  const char* env = std::getenv("GROVE_LOOP");
  if (!env || !*env) return default_engine();
  auto names = built_engines();
  if (std::find(names.begin(), names.end(), env) == names.end())
    throw UnknownEngine(std::string("grove: GROVE_LOOP=") + env +
                        " names an engine that is not built here; built engines: " + joined(names));
  return env;
}

std::unique_ptr<EventLoop> make_loop() {
  const char* env = std::getenv("GROVE_LOOP");
  if (env && *env) return make_loop(selected_engine());  // chosen: no fallback
  return detail::make_loop_or_fallback(default_engine());
}

namespace detail {

// The build's engines in its order of preference (GROVE_ENGINE_ORDER, from CMake).
std::vector<std::string> engine_order() {
  std::vector<std::string> names;
  std::string_view order = GROVE_ENGINE_ORDER;
  while (!order.empty()) {
    const auto comma = order.find(',');
    names.emplace_back(order.substr(0, comma));
    order = comma == std::string_view::npos ? std::string_view{} : order.substr(comma + 1);
  }
  return names;
}

std::unique_ptr<EventLoop> make_loop_or_fallback(std::string_view preferred) {
  try {
    return make_loop(preferred);
  } catch (const EngineUnavailable& unavailable) {
    std::string tried = std::string(preferred);
    for (const std::string& next : engine_order()) {
      if (next == preferred) continue;
      try {
        auto loop = make_loop(next);
        report(Severity::warning, "loop",
               std::string(unavailable.what()) + "; the default engine '" + std::string(preferred) +
                   "' is unavailable, using '" + next + "' instead");
        return loop;
      } catch (const EngineUnavailable&) {
        tried += ", " + next;
      }
    }
    throw EngineUnavailable(std::string(unavailable.what()) +
                            "; no other built engine runs here either (tried " + tried + ")");
  }
}

}  // namespace detail

std::unique_ptr<EventLoop> make_loop(std::string_view engine) {
  EngineFactory factory = nullptr;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.engines.find(engine);
    if (it != r.engines.end()) factory = it->second;
  }
  if (!factory)
    throw UnknownEngine("grove: no engine named '" + std::string(engine) +
                        "' is built; built engines: " + joined(built_engines()) +
                        " (choose them with cmake -DGROVE_ENGINES=...)");
  return factory();
}

void register_engine(std::string name, EngineFactory factory) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.engines[std::move(name)] = factory;
}

std::string_view version() noexcept { return GROVE_VERSION; }

}  // namespace grove
