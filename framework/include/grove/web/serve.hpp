// grove::web::serve — grove::http::serve for an App, with the app's own flags:
//
//   int main(int argc, char** argv) {
//     web::App app;
//     ...routes...
//     return web::serve(app, argc, argv);
//   }
//
//   --config PATH        app.config.from_file(PATH) before serving (a JSON object)
//   --env-prefix PREFIX  then app.config.from_env(PREFIX) (environment variables win)
// and every flag of grove::http::serve. A config file that is missing, not JSON, or not an
// object stops the program before it binds: one line naming the file, exit status 2.
// options.configure (if any) runs after the config is loaded, so it can read app.config.
#pragma once

#include <grove/http/serve.hpp>

namespace grove::web {

class App;

int serve(App& app, int argc, char** argv, grove::http::ServeOptions options = {});

}  // namespace grove::web
