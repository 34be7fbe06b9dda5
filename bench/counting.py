"""The app's server, with every database write statement logged (counted, not timed).

`python -m bench.counting <daphne arguments>` serves the app exactly as
`python -m chatsite.serve` does; with BENCH_WRITES_LOG set, each INSERT, UPDATE or
DELETE the app runs appends "<time.monotonic()> <statement>" to that file, as
tests/test_streaming_guarantees.py counts them. A handful of statements per
reply means the cost is a few microseconds per reply.
"""

from __future__ import annotations

import os
import sys
import time

WRITES = ("INSERT", "UPDATE", "DELETE")


def count_writes(path: str) -> None:
    from django.db.backends.utils import CursorWrapper

    log = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    execute, executemany = CursorWrapper._execute, CursorWrapper._executemany

    def record(sql: str) -> None:
        if sql.lstrip()[:6].upper() in WRITES:
            log.write(f"{time.monotonic():.6f} {' '.join(sql.split())[:120]}\n")

    def counted_execute(self, sql, params, *wrappers):
        record(sql)
        return execute(self, sql, params, *wrappers)

    def counted_executemany(self, sql, param_list, *wrappers):
        record(sql)
        return executemany(self, sql, param_list, *wrappers)

    CursorWrapper._execute = counted_execute
    CursorWrapper._executemany = counted_executemany


def main() -> None:
    if os.environ.get("BENCH_WRITES_LOG"):
        count_writes(os.environ["BENCH_WRITES_LOG"])
    from chatsite import serve

    serve.main(sys.argv[1:])


if __name__ == "__main__":
    main()
