// render_template(): template folders, the per-app source cache, and the Mustache context
// with Flask's template globals (grove/web/templating.hpp).
#include "internal.hpp"

#include <grove/web/templating.hpp>

#include <kainjow/mustache.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace grove::web {

namespace mst = kainjow::mustache;

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(no template folder)" : out;
}

}  // namespace

TemplateNotFound::TemplateNotFound(std::string name, std::vector<std::string> searched)
    : TemplateError("template \"" + name + "\" not found; searched: " + joined(searched)),
      name_(std::move(name)), searched_(std::move(searched)) {}

TemplateSyntaxError::TemplateSyntaxError(std::string file, std::size_t line, std::size_t column,
                                         std::string what_is_wrong)
    : TemplateError("template syntax error in " + file + " at line " + std::to_string(line) +
                    ", column " + std::to_string(column) + ": " + what_is_wrong),
      file_(std::move(file)), line_(line), column_(column) {}

namespace detail {

// --- sources ------------------------------------------------------------------------------------

// What tells a changed file from the one loaded.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  static FileId of(const struct stat& st) { return {st.st_dev, st.st_ino, st.st_size, st.st_mtim}; }
  bool operator==(const FileId& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

struct TemplateSource {
  std::string name;
  std::string path;
  std::string text;
  FileId id;
};

namespace {

// kainjow reports "... at <byte offset>": the file, line and column instead.
[[noreturn]] void throw_syntax_error(const std::string& file, std::string_view text,
                                     std::string message) {
  std::size_t offset = 0;
  if (auto at = message.rfind(" at "); at != std::string::npos) {
    std::string_view digits = std::string_view(message).substr(at + 4);
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
      offset = std::min<std::size_t>(std::stoull(std::string(digits)), text.size());
      message.resize(at);
    }
  }
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  throw TemplateSyntaxError(file, line, offset - line_start + 1, message);
}

void check_syntax(const std::string& file, const std::string& text) {
  mst::mustache parsed{text};
  if (!parsed.is_valid()) throw_syntax_error(file, text, parsed.error_message());
}

bool bad_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) return true;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

// The file at `path`, or nullopt when there is no regular file there.
std::optional<TemplateSource> read_source(std::string_view name, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw TemplateError("cannot open template " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  // A regular file from the page cache: read on the hub, as static files are opened there.
  TemplateSource src{std::string(name), path, {}, FileId::of(st)};
  src.text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < src.text.size()) {
    ssize_t n = ::read(fd, src.text.data() + got, src.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  src.text.resize(got);
  return src;
}

}  // namespace

// One app's loaded templates. Renders may run on several threads (the thread bridge), so
// the map is locked, never across a file read.
class Templates {
 public:
  std::shared_ptr<const TemplateSource> get(std::string_view name,
                                            const std::vector<std::string>& folders,
                                            bool auto_reload) {
    if (bad_name(name)) throw TemplateNotFound(std::string(name), folders);
    std::shared_ptr<const TemplateSource> cached;
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(name); it != cache_.end()) cached = it->second;
    }
    if (cached && (!auto_reload || unchanged(*cached))) return cached;
    auto loaded = load(name, folders);
    std::lock_guard lock(mu_);
    cache_.insert_or_assign(std::string(name), loaded);
    return loaded;
  }

 private:
  static bool unchanged(const TemplateSource& src) {
    struct stat st {};
    return ::stat(src.path.c_str(), &st) == 0 && FileId::of(st) == src.id;
  }

  static std::shared_ptr<const TemplateSource> load(std::string_view name,
                                                    const std::vector<std::string>& folders) {
    for (const auto& folder : folders) {
      if (auto src = read_source(name, folder + "/" + std::string(name))) {
        check_syntax(src->path, src->text);
        return std::make_shared<const TemplateSource>(std::move(*src));
      }
    }
    throw TemplateNotFound(std::string(name), folders);
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const TemplateSource>, std::less<>> cache_;
};

}  // namespace detail

// --- the app's side ---------------------------------------------------------------------------

detail::TemplateEnv detail::template_env(App& app) {
  App::Impl& impl = *app.impl_;
  std::call_once(impl.templates_once, [&] { impl.templates = std::make_shared<Templates>(); });
  TemplateEnv env{impl.templates.get(), {}};
  if (!app.state()->template_folder.empty()) env.folders.push_back(app.state()->template_folder);
  for (const auto& bp : impl.blueprints)
    if (!bp->template_folder.empty()) env.folders.push_back(bp->template_folder);
  return env;
}

Scaffold& Scaffold::template_folder(std::string folder) {
  state_->template_folder = detail::absolute_path(std::move(folder));
  return *this;
}

Scaffold& Scaffold::context_processor(std::function<Json()> processor) {
  if (!processor) throw std::invalid_argument("context_processor(): the function is empty");
  state_->context_processors.push_back(std::move(processor));
  return *this;
}

// --- rendering --------------------------------------------------------------------------------

namespace {

// How much stack nested partials may take below render(): a green thread has 64 KiB, and
// kainjow renders a partial by recursion, with no call when it is done that would let a
// depth be counted. A partial that includes itself stops here with an error, not a fault.
// AddressSanitizer's redzones make each level's frames about twice as large (ten levels take
// about 27 KiB in an optimised ASan build), so the budget doubles there.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uintptr_t kPartialStackBudget = 32 * 1024;
#else
constexpr std::uintptr_t kPartialStackBudget = 16 * 1024;
#endif

std::uintptr_t frame_address() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

mst::data to_data(const Json& j) {
  switch (j.kind()) {
    case Json::Kind::null: return mst::data(false);
    case Json::Kind::boolean: return mst::data(j.as_bool());
    case Json::Kind::integer:
    case Json::Kind::number: return mst::data(j.dump());
    case Json::Kind::string:  // "" is false in a section, as in Jinja's if; it renders as nothing
                              // either way
      return j.as_string().empty() ? mst::data(false) : mst::data(j.as_string());
    case Json::Kind::array: {
      mst::data list{mst::data::type::list};
      for (const auto& item : j.as_array()) list.push_back(to_data(item));
      return list;
    }
    case Json::Kind::object: {
      mst::data object{mst::data::type::object};
      for (const auto& [key, value] : j.as_object()) object.set(key, to_data(value));
      return object;
    }
  }
  return mst::data(false);
}

Json request_object(Request& r) {
  Json args = Json::object();
  for (const auto& [key, value] : r.args())
    if (!args.find(key)) args[key] = value;
  return Json{{"method", r.method()},       {"path", r.path()},
              {"full_path", r.full_path()}, {"url", r.url()},
              {"endpoint", r.endpoint()},   {"blueprint", r.blueprint()},
              {"scheme", r.scheme()},       {"remote_addr", r.remote_addr()},
              {"args", std::move(args)}};
}

Json flashed_messages() {
  Json list = Json::array();
  for (auto& [category, message] : get_flashed_messages_with_categories())
    list.as_array().push_back(Json{{"category", category}, {"message", message}});
  return list;
}

// {{#url_for}}endpoint key=value key="a b"{{/url_for}} -> url_for's arguments.
std::pair<std::string, Json> parse_url_for(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i == text.size()) break;
    std::string token;
    bool quoted = false;
    for (; i < text.size() && (quoted || !std::isspace(static_cast<unsigned char>(text[i]))); ++i) {
      if (text[i] == '"') quoted = !quoted;
      else token.push_back(text[i]);
    }
    if (quoted)
      throw TemplateError("{{#url_for}}" + std::string(text) +
                          "{{/url_for}}: a quote is not closed");
    tokens.push_back(std::move(token));
  }
  if (tokens.empty())
    throw TemplateError(
        "{{#url_for}}{{/url_for}} needs an endpoint: {{#url_for}}endpoint key=value{{/url_for}}");
  Json values = Json::object();
  for (std::size_t t = 1; t < tokens.size(); ++t) {
    auto eq = tokens[t].find('=');
    if (eq == std::string::npos || eq == 0)
      throw TemplateError("{{#url_for}}" + std::string(text) + "{{/url_for}}: \"" + tokens[t] +
                          "\" is not key=value");
    std::string key = tokens[t].substr(0, eq), value = tokens[t].substr(eq + 1);
    if (key.front() == '_' && (value == "true" || value == "false"))
      values[key] = (value == "true");
    else values[key] = std::move(value);
  }
  return {std::move(tokens.front()), std::move(values)};
}

// What one render shares with its context and its url_for lambda.
struct RenderState {
  App* app = nullptr;
  bool in_request = false;
  bool autoescape = true;
  bool raw = false;               // while url_for renders its arguments
  std::uintptr_t stack_base = 0;  // render()'s frame
  detail::TemplateEnv env;
  bool auto_reload = false;

  std::string escape(const std::string& s) const {
    return autoescape && !raw ? mst::html_escape(s) : s;
  }
};

// The render's lookup: the user's object (pushed sections on top), then Flask's globals,
// each made the first time the template names it.
class TemplateContext final : public mst::basic_context<std::string> {
 public:
  TemplateContext(RenderState& state, const mst::data* root) : state_(state) {
    items_.push_back(root);
  }

  void push(const mst::data* data) override { items_.push_back(data); }
  void pop() override { items_.pop_back(); }

  const mst::data* get(const std::string& name) const override {
    if (name == ".") return items_.back();
    std::vector<std::string> parts = mst::split(name, '.');
    if (parts.empty()) return nullptr;
    for (auto it = items_.rbegin(); it != items_.rend(); ++it)
      if (const mst::data* found = walk(*it, parts, 0)) return found;
    const mst::data* global = this->global(parts.front());
    return global ? walk(global, parts, 1) : nullptr;
  }

  // {{> name}}: another template from the folders.
  const mst::data* get_partial(const std::string& name) const override {
    std::uintptr_t here = frame_address();
    if (state_.stack_base > here && state_.stack_base - here > kPartialStackBudget)
      throw TemplateError("template partials nest too deep at \"{{> " + name + "}}\" (over " +
                          std::to_string(kPartialStackBudget / 1024) +
                          " KiB of stack): does a partial include itself?");
    auto src = state_.env.cache->get(name, state_.env.folders, state_.auto_reload);
    auto& slot = partials_[name];
    if (!slot) slot = std::make_unique<mst::data>(src->text);
    return slot.get();
  }

 private:
  static const mst::data* walk(const mst::data* data, const std::vector<std::string>& parts,
                               std::size_t from) {
    for (std::size_t i = from; data && i < parts.size(); ++i) data = data->get(parts[i]);
    return data;
  }

  const mst::data* global(const std::string& name) const {
    if (auto it = globals_.find(name); it != globals_.end()) return it->second.get();
    std::unique_ptr<mst::data> made = make_global(name);
    if (!made) return nullptr;
    return (globals_[name] = std::move(made)).get();
  }

  std::unique_ptr<mst::data> make_global(const std::string& name) const {
    if (name == "url_for") return std::make_unique<mst::data>(url_for_lambda());
    if (name == "config") return std::make_unique<mst::data>(to_data(state_.app->config.values()));
    if (!state_.in_request) return nullptr;
    if (name == "request") return std::make_unique<mst::data>(to_data(request_object(request())));
    if (name == "session") return std::make_unique<mst::data>(to_data(session().data()));
    if (name == "get_flashed_messages")
      return std::make_unique<mst::data>(to_data(flashed_messages()));
    return nullptr;
  }

  mst::lambda2 url_for_lambda() const {
    RenderState* state = &state_;
    return [state](const std::string& text, const mst::renderer& render) -> std::string {
      std::string expanded;
      {
        state->raw = true;
        struct Restore {
          RenderState* s;
          ~Restore() { s->raw = false; }
        } restore{state};
        expanded = render(text);
      }
      auto [endpoint, values] = parse_url_for(expanded);
      std::string url =
          state->in_request ? url_for(endpoint, values) : url_for(*state->app, endpoint, values);
      return state->escape(url);
    };
  }

  RenderState& state_;
  std::vector<const mst::data*> items_;
  mutable std::map<std::string, std::unique_ptr<mst::data>> globals_;
  mutable std::map<std::string, std::unique_ptr<mst::data>> partials_;
};

// Flask's select_jinja_autoescape.
bool autoescape_for(std::string_view name) {
  for (std::string_view ext : {".html", ".htm", ".xml", ".xhtml", ".svg"})
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) return true;
  return false;
}

bool auto_reload(const App& app) {
  const Json* v = app.config.find("TEMPLATES_AUTO_RELOAD");
  if (v && !v->is_null()) return app.config.get<bool>("TEMPLATES_AUTO_RELOAD", false);
  return app.config.get<bool>("DEBUG", false);
}

// The context processors' objects (app first, then the request's blueprints from the
// outermost in), then the view's: later keys win.
Json full_context(App& app, bool in_request, const Json& context) {
  std::vector<detail::ScaffoldState*> scopes{app.state().get()};
  if (in_request) {
    if (auto* ctx = detail::current_request_context(); ctx && ctx->route) {
      const auto& inner_first = ctx->route->scopes;  // innermost blueprint ... app
      scopes.assign(inner_first.rbegin(), inner_first.rend());
    }
  }
  Json merged = Json::object();
  auto merge = [&](const Json& object, std::string_view from) {
    if (!object.is_object())
      throw TemplateError(std::string(from) + " must be a JSON object, not " + object.dump());
    for (const auto& [key, value] : object.as_object()) merged[key] = value;
  };
  for (auto* scope : scopes)
    for (const auto& processor : scope->context_processors)
      merge(processor(), "a context_processor's result");
  merge(context, "the template context");
  return merged;
}

std::string render(App& app, const std::string& text, const std::string& display_name,
                   bool autoescape, const Json& context) {
  RenderState state;
  state.app = &app;
  state.in_request = has_request_context() && &current_app() == &app;
  state.autoescape = autoescape;
  state.env = detail::template_env(app);
  state.auto_reload = auto_reload(app);
  state.stack_base = frame_address();

  mst::data root = to_data(full_context(app, state.in_request, context));
  mst::mustache tmpl{text};
  if (!tmpl.is_valid()) detail::throw_syntax_error(display_name, text, tmpl.error_message());
  tmpl.set_custom_escape([&state](const std::string& s) { return state.escape(s); });
  TemplateContext ctx(state, &root);
  std::string out = tmpl.render(ctx);
  if (!tmpl.is_valid())
    throw TemplateError("template " + display_name + ": " + tmpl.error_message());
  return out;
}

App& app_of_request() {
  if (!has_request_context())
    throw std::logic_error(
        "render_template(name) outside a request: use render_template(app, name, context) there");
  return current_app();
}

}  // namespace

std::string render_template(App& app, std::string_view name, const Json& context) {
  auto env = detail::template_env(app);
  auto src = env.cache->get(name, env.folders, auto_reload(app));
  return render(app, src->text, src->path, autoescape_for(name), context);
}

std::string render_template(std::string_view name, const Json& context) {
  return render_template(app_of_request(), name, context);
}

std::string render_template_string(App& app, std::string_view source, const Json& context) {
  return render(app, std::string(source), "<template string>", true, context);
}

std::string render_template_string(std::string_view source, const Json& context) {
  return render_template_string(app_of_request(), source, context);
}

}  // namespace grove::web
