// request.stream() for coroutine views: each read is a job the bridge's body pump runs on
// the connection's side; its end wakes the coroutine through its loop.
#include <grove/loop.hpp>
#include <grove/web/body_stream.hpp>

#include <exception>
#include <mutex>
#include <stdexcept>

namespace grove::web {

namespace detail {

// Shared by a BodyWait and its job: the job may finish after the wait was withdrawn
// (the coroutine cancelled), and under the thread bridge on another OS thread.
struct BodyJob {
  std::mutex mutex;
  EventLoop* loop = nullptr;  // null once the wait is withdrawn: nobody to wake
  BodyWait* waiter = nullptr;
  bool working = false;  // the loop counts the read as work (alive() while it runs)
  std::string data;
  std::exception_ptr error;

  // On the loop's thread, with `mutex` held.
  void stop_working() {
    if (working && loop) loop->work_finished();
    working = false;
  }
};

BodyWait::BodyWait(BodyWait&& o) noexcept
    : Wait(std::move(o)), req_(o.req_), n_(o.n_), whole_(o.whole_) {}

BodyWait::~BodyWait() { withdraw(); }

bool BodyWait::await_ready() {
  if (req_->body_loaded()) {  // in memory (or all read): no waiting
    if (!whole_) {
      ready_.resize(n_);
      ready_.resize(req_->read_body(ready_.data(), n_));
    }
    return true;
  }
  if (req_->stream_reading_ && req_->stream_reading_->load(std::memory_order_acquire))
    throw std::logic_error(
        "co_await request.stream(): another read of this request's body is in flight (a "
        "sibling task awaits one); the body comes in order, so await one read at a time");
  if (!req_->body_pump())
    throw std::logic_error(
        "co_await request.stream(): this request's body is still on the connection and no "
        "bridge pump can read it: register the view with web::streamed_body and run it "
        "through web::green_bridge or web::thread_bridge (a bridge of your own must install "
        "Request::set_body_pump, or read the body before it runs the coroutine)");
  return false;
}

void BodyWait::start() {
  auto job = std::make_shared<BodyJob>();
  job->loop = &loop();
  job->waiter = this;
  // The read wakes the loop through call_soon_threadsafe: until then the loop must not
  // conclude that nothing can wake this task.
  job->loop->work_started();
  job->working = true;
  job_ = job;
  if (!req_->stream_reading_) req_->stream_reading_ = std::make_shared<std::atomic<bool>>();
  req_->stream_reading_->store(true, std::memory_order_relaxed);
  req_->body_pump()([job, req = req_, reading = req_->stream_reading_, n = n_, whole = whole_] {
    try {
      if (whole) {
        req->load_data();
      } else {
        job->data.resize(n);
        job->data.resize(req->read_body(job->data.data(), n));
      }
    } catch (...) {
      job->error = std::current_exception();
    }
    reading->store(false, std::memory_order_release);  // what the read changed comes with it
    std::lock_guard lock(job->mutex);
    if (job->loop)
      job->loop->call_soon_threadsafe([job] {
        std::lock_guard relock(job->mutex);
        job->stop_working();
        if (job->waiter) job->waiter->wake();
      });
  });
}

void BodyWait::withdraw() noexcept {
  if (!job_) return;
  std::lock_guard lock(job_->mutex);
  job_->stop_working();
  job_->loop = nullptr;
  job_->waiter = nullptr;
}

std::string BodyWait::await_resume() {
  if (!job_) return std::move(ready_);
  finish();
  withdraw();
  if (job_->error) std::rethrow_exception(job_->error);
  return std::move(job_->data);
}

}  // namespace detail

detail::BodyWait BodyStream::read(std::size_t n) {
  if (n == 0) throw std::invalid_argument("request.stream().read(n): n must be at least 1");
  return detail::BodyWait(*req_, n, false);
}

detail::BodyWait BodyStream::load() {
  if (req_->streamed_ > 0)
    throw std::logic_error(
        "request.stream().load() after request.stream().read(): the bytes read are gone; "
        "load() the body before reading any of it, or go on reading");
  return detail::BodyWait(*req_, 0, true);
}

BodyStream Request::stream() { return BodyStream(*this); }

}  // namespace grove::web
