// Queue<T> and Channel<T> are templates (queue.hpp); their waits go through wait_in()
// (wait_list.cpp). This file keeps the exception types' vtables in one place.
#include <grove/green/queue.hpp>
