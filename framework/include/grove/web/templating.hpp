// Templates: render_template() over Mustache (Flask's templating.py; the engine is Debian's
// libkainjow-mustache-dev, header-only).
//
//   web::App app;                                   // templates in ./templates by default
//   app.template_folder("/srv/notes/templates");    // or elsewhere
//   app.context_processor([] { return web::Json{{"site", "Notes"}}; });
//   app.route("/note/<int:id>", [](std::int64_t id) {
//     return web::render_template("note.html", {{"id", id}, {"title", "<b>hi</b>"}});
//   });
//
//   templates/note.html:
//     {{> _header.html}}                                  a partial: another template
//     <h1>{{title}}</h1>                                  escaped: &lt;b&gt;hi&lt;/b&gt;
//     {{{title}}} {{&title}}                              raw
//     <a href="{{#url_for}}note id={{id}}{{/url_for}}">   url_for in a template
//     <link href="{{#url_for}}static filename=css/app.css{{/url_for}}" rel="stylesheet">
//     {{#session.user}}Logged in as {{session.user}}{{/session.user}}
//     {{#get_flashed_messages}}<p class="{{category}}">{{message}}</p>{{/get_flashed_messages}}
//     {{request.path}} {{config.SITE_NAME}} {{site}}
//
// Promises:
//  - Names are looked up in the app's template folder first, then in each registered
//    blueprint's, in registration order (Flask's order: put a blueprint's templates in a
//    subfolder named after it). A name with a ".." segment, an absolute name or one found
//    nowhere is a TemplateNotFound naming it and every folder searched.
//  - A template with a syntax error (an unclosed tag or section, a section closed that was
//    never opened, a bad delimiter change) is a TemplateSyntaxError naming the file, the
//    line and column, and what is wrong; partials are checked the same way when loaded.
//  - Autoescaping, as Flask: {{x}} is HTML-escaped (& < > " ') when the template's name ends
//    in .html, .htm, .xml, .xhtml or .svg, and always in render_template_string; {{{x}}} and
//    {{&x}} are never escaped. A partial is escaped as the template that includes it.
//  - The context is the JSON object given, over the context processors' objects (the app's,
//    then those of the request's blueprints from the outermost in; later ones win), over
//    these globals, each made only when the template names it:
//      request                 method, path, full_path, url, endpoint, blueprint, scheme,
//                              remote_addr, args (each key's first value)   (in a request)
//      session                 the session's object (reading it marks it accessed)
//      get_flashed_messages    the flashed messages as {category, message} objects; taken
//                              out of the session only if the template names it
//      config                  app.config
//      url_for                 a section: {{#url_for}}endpoint key=value ...{{/url_for}}.
//                              The text is rendered first (without escaping) and split at
//                              spaces; a value with spaces is written key="a b". It gives
//                              url_for(endpoint, values) with the values as strings
//                              ("true"/"false" for the _external-style options), escaped
//                              as the template is. A BuildError propagates (a 500 in a view).
//    A missing name renders as nothing (Mustache's rule); null, false and "" are false in
//    a section ({{#user}}...{{/user}} is skipped for an empty user, as Jinja's if).
//    Numbers render as JSON writes them.
//  - Sources are cached per app. With TEMPLATES_AUTO_RELOAD true (null, the default,
//    follows DEBUG), each render checks the file's modification time, size and inode and
//    reloads a changed file (and looks again for a file that is gone).
//  - Partials that nest deeper than 16 KiB of stack ("{{> a}}" in a.html) are a
//    TemplateError saying so, not a fault of the green thread's 64 KiB stack; ten honest
//    levels take a fraction of that.
// Templates are code: never render a string a client sent with render_template_string.
#pragma once

#include <grove/web/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web {

class App;

// Every template error.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No template of that name in any folder searched.
class TemplateNotFound : public TemplateError {
 public:
  TemplateNotFound(std::string name, std::vector<std::string> searched);
  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& searched() const noexcept { return searched_; }

 private:
  std::string name_;
  std::vector<std::string> searched_;
};

// A template that does not parse. line and column count from 1.
class TemplateSyntaxError : public TemplateError {
 public:
  TemplateSyntaxError(std::string file, std::size_t line, std::size_t column,
                      std::string what_is_wrong);
  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }
  std::size_t column() const noexcept { return column_; }

 private:
  std::string file_;
  std::size_t line_, column_;
};

// Renders the template `name` of the app handling the current request (std::logic_error
// outside a request: use the overload taking the app).
std::string render_template(std::string_view name, const Json& context = Json::object());
// The same for a given app, usable outside a request (no request, session or flashes then).
std::string render_template(App& app, std::string_view name, const Json& context = Json::object());
// Renders a template given as text (autoescaped; partials come from the template folders).
std::string render_template_string(std::string_view source, const Json& context = Json::object());
std::string render_template_string(App& app, std::string_view source,
                                   const Json& context = Json::object());

}  // namespace grove::web
