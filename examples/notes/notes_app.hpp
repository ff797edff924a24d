// grove-notes: a small notes app that uses what a Flask app needs (issue 16): login with a
// session, forms protected by a CSRF token kept in the session, a file upload per note, a
// static CSS file, Mustache templates, url_for everywhere and flashed messages.
//
// make_notes_app() builds it on an App whose config is already loaded, so the test suite
// drives the very same app through the test client and over real HTTP.
#pragma once

#include <grove/web.hpp>

#include <memory>

namespace notes {

// Config keys (app.config, from --config FILE or NOTES_* variables):
//   SECRET_KEY      required to log in (sessions are signed with it)
//   USERS           {"name": "password", ...}; default {"demo": "demo"}
//   NOTES_ROOT      the folder holding templates/ and static/ (default: the sources')
//   UPLOAD_FOLDER   where attachments are kept (default: a new folder under $TMPDIR)
// Returns the state the app's views share; keep it alive as long as the app serves.
std::shared_ptr<void> make_notes_app(grove::web::App& app);

}  // namespace notes
