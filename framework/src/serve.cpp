// web::serve: the server's command line plus --config and --env-prefix for app.config.
#include <grove/web/app.hpp>
#include <grove/web/serve.hpp>

#include <CLI/CLI.hpp>

#include <memory>

namespace grove::web {

int serve(App& app, int argc, char** argv, grove::http::ServeOptions options) {
  struct Flags {
    std::string config_path, env_prefix;
  };
  auto flags = std::make_shared<Flags>();
  options.add_flags = [flags, add = std::move(options.add_flags)](void* cli) {
    auto* c = static_cast<CLI::App*>(cli);
    c->add_option("--config", flags->config_path,
                  "A JSON file of app.config keys (SECRET_KEY, ...)");
    c->add_option(
        "--env-prefix", flags->env_prefix,
        "Also load app.config keys from environment variables PREFIX<KEY> (after --config)");
    if (add) add(cli);
  };
  options.configure = [flags, &app,
                       configure = std::move(options.configure)](grove::http::ServerConfig& cfg) {
    // A ConfigError here is a std::invalid_argument-style failure: serve() reports it.
    if (!flags->config_path.empty()) app.config.from_file(flags->config_path);
    if (!flags->env_prefix.empty()) app.config.from_env(flags->env_prefix);
    if (configure) configure(cfg);
  };
  return grove::http::serve(app.application(), argc, argv, std::move(options));
}

}  // namespace grove::web
