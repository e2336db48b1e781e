"""Jobs run at a lower CPU priority than the API threads of the same process."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from fleetlake.platform.priority import lower_thread_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_job_thread_and_the_threads_it_starts_run_niced_the_others_do_not() -> None:
    before = _niceness()
    seen: dict[str, int] = {}

    def job() -> None:
        lower_thread_priority(before + 5)
        seen["job"] = _niceness()
        helper = threading.Thread(target=lambda: seen.update(helper=_niceness()))
        helper.start()
        helper.join()
        lower_thread_priority(before + 1)  # never back down: that needs privileges
        seen["after"] = _niceness()

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert seen == {"job": before + 5, "helper": before + 5, "after": before + 5}
    assert _niceness() == before
