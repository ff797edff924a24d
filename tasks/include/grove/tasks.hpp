// grove::tasks — background tasks on Redis Streams (docs/tasks.md).
#pragma once

#include <grove/tasks/errors.hpp>
#include <grove/tasks/tasks.hpp>
#include <grove/tasks/worker.hpp>
