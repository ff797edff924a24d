// grove::web — a Flask-like web framework whose views and hooks may be coroutines.
//
// Everything in one include: App, Blueprint, routing, hooks, error handlers, View and
// MethodView, Request/Response, Json, templates, the test client and the async_to_sync bridges.
// See docs/web.md.
#pragma once

#include <grove/web/app.hpp>
#include <grove/web/body_stream.hpp>
#include <grove/web/config.hpp>
#include <grove/web/datastructures.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/files.hpp>
#include <grove/web/hub.hpp>
#include <grove/web/json.hpp>
#include <grove/web/logging.hpp>
#include <grove/web/request.hpp>
#include <grove/web/response.hpp>
#include <grove/web/routing.hpp>
#include <grove/web/scaffold.hpp>
#include <grove/web/serve.hpp>
#include <grove/web/sessions.hpp>
#include <grove/web/signing.hpp>
#include <grove/web/templating.hpp>
#include <grove/web/testing.hpp>
#include <grove/web/urls.hpp>
#include <grove/web/views.hpp>
#include <grove/web/websocket.hpp>
