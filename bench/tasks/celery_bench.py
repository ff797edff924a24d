"""Celery's side of bench/run_tasks.sh: the anchor for grove::tasks.

  python3 celery_bench.py produce N   enqueues N no-op tasks one after another
      (noop.delay()), waits until the workers ran them all, prints "tasks_per_s=X"
  celery -A celery_bench worker -P gevent -c 100 ...   the worker
Both read the broker from REDIS_URL.

The task's only work is the INCR the harness counts completions with (grove's worker counts
them in the same MULTI as its acknowledgement). acks_late: acknowledged after the run, the
at-least-once delivery grove::tasks gives.
"""
import os
import sys
import time

import redis
from celery import Celery

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DONE = "celery-bench:completed"
app = Celery("celery_bench", broker=URL)
app.conf.update(task_acks_late=True, task_ignore_result=True, worker_prefetch_multiplier=4,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
_counter = redis.Redis.from_url(URL)


@app.task(name="noop")
def noop():
    _counter.incr(DONE)


def produce(n):
    before = int(_counter.get(DONE) or 0)
    start = time.monotonic()
    for _ in range(n):
        noop.delay()
    enqueue_s = time.monotonic() - start
    while int(_counter.get(DONE) or 0) - before < n:
        time.sleep(0.001)
    total_s = time.monotonic() - start
    print(f"tasks={n} enqueue_s={enqueue_s:.3f} total_s={total_s:.3f} tasks_per_s={n / total_s:.0f}")


if __name__ == "__main__" and sys.argv[1:2] == ["produce"]:
    produce(int(sys.argv[2]))
