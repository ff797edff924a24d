// grove-notes: the notes app (notes_app.hpp) on grove's server, with compat on (serve()'s
// --compat, the default here) and the green bridge.
//   grove-notes --config notes.json [--bind 127.0.0.1:8000] [standard serve flags]
// notes.json: {"SECRET_KEY": "a long random string", "USERS": {"ann": "secret"}}
#include "notes_app.hpp"

int main(int argc, char** argv) {
  grove::web::App app("grove-notes");
  app.async_to_sync = grove::web::green_bridge;
  std::shared_ptr<void> state;
  grove::http::ServeOptions options;
  options.config.compat = true;  // as grove-demo: --no-compat turns it off
  options.description =
      "grove-notes: a small notes app (login, CSRF-protected forms, uploads, templates)";
  // After --config is loaded. A reload (SIGHUP with --workers) runs this again with the
  // config re-read: the routes stay, USERS and SECRET_KEY are read per request.
  options.configure = [&](grove::http::ServerConfig&) {
    if (!state) state = notes::make_notes_app(app);
  };
  return grove::web::serve(app, argc, argv, options);
}
