"""Faults in the user's function cost only their own item: a segfault,
os._exit, an exception, an endless loop under `timeout`, a huge allocation
under `mem_limit`, and a worker SIGKILLed from outside."""

import collections
import os
import random
import signal
import time

import jobs

import procmap
from conftest import alive

FAULTS = ["segfault", "exit3", "raise", "hang", "oom"]


def test_each_fault_gets_its_own_status_and_every_other_item_one_ok(tmp_path):
    items = list(range(1000))
    for i, fault in enumerate(FAULTS):
        items.insert(150 * (i + 1), fault)
    journal = tmp_path / "faults.jsonl"
    with procmap.Pool(procs=2, timeout=2, retries=1, mem_limit="1G", journal=journal) as pool:
        results = list(pool.imap_unordered(jobs.faulty, items))

    by_index = collections.Counter(r.index for r in results)
    assert sorted(by_index) == list(range(len(items))) and set(by_index.values()) == {1}
    by_item = {items[r.index]: r for r in results}
    for r in results:
        if isinstance(items[r.index], int):
            assert (r.status, r.value, r.item) == ("ok", items[r.index] ** 3, items[r.index])

    segv = by_item["segfault"]
    assert (segv.status, segv.signal, segv.attempts) == ("crashed", "SIGSEGV", 2)
    assert "in faulty" in segv.stderr  # faulthandler's Python stack of the crash
    exit3 = by_item["exit3"]
    assert (exit3.status, exit3.exit_code, exit3.signal) == ("crashed", 3, None)
    raised = by_item["raise"]
    assert (raised.status, raised.error) == ("error", "ValueError: bad item")
    assert "Traceback (most recent call last):" in raised.traceback and "in faulty" in raised.traceback
    hang = by_item["hang"]
    assert hang.status == "timeout" and "2" in hang.error
    oom = by_item["oom"]
    assert (oom.status, oom.error) == ("error", "MemoryError")

    # The journal has the same story, one record per item.
    recorded = procmap.read_journal(journal)
    assert sorted((r.index, r.status) for r in recorded) == sorted((r.index, r.status) for r in results)


def test_a_worker_killed_from_outside_loses_nothing():
    rng = random.Random(12)
    kills = 0
    results = []
    with procmap.Pool(procs=2, chunksize=8) as pool:
        for r in pool.imap_unordered(jobs.slow_cube, range(1500)):
            results.append(r)
            # Twice mid-run, SIGKILL the worker that just sent a result.
            if kills < 2 and len(results) in (300 + rng.randrange(100), 900 + rng.randrange(100)):
                os.kill(r.worker, signal.SIGKILL)
                kills += 1
    assert kills == 2
    assert sorted(r.index for r in results) == list(range(1500))
    assert all(r.ok and r.value == r.index**3 for r in results)
    assert len({r.worker for r in results}) >= 3  # the killed workers were replaced


def _gone(pid, within=10):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_what_a_job_starts_in_a_session_of_its_own_does_not_outlive_its_worker(tmp_path):
    # Issue 19 #11: the worker's process group does not hold a
    # start_new_session child. The template (start_method="fork") and each
    # worker are subreapers: a dead worker's leftovers are re-parented to
    # the template, which kills them; a live worker's stay until the pool
    # ends.
    crashed, kept = tmp_path / "crashed.pid", tmp_path / "kept.pid"
    with procmap.Pool(procs=1, retries=0, start_method="fork") as pool:
        [r] = list(pool.imap_unordered(jobs.detach, [(str(crashed), True)]))
        assert r.status == "crashed" and r.exit_code == 3
        assert _gone(int(crashed.read_text())), "a dead worker's detached child is still running after 10 s"
        [pid] = pool.map(jobs.detach, [(str(kept), False)])
        assert alive(pid), "a live worker's child was killed"
    assert _gone(pid), "a detached child outlived its pool by 10 s"


def test_a_pool_that_ends_while_its_workers_start_leaves_no_worker_and_says_nothing(script):
    # A worker the template has forked but that has not yet made its own
    # process group: the engine's kill of that group must still reach it.
    # Before the template made the group itself, such a worker lived on,
    # failed to connect and printed a traceback ("cannot connect to the
    # supervisor") after the pool was gone.
    proc = script(
        """
        import os, procmap, jobs
        if __name__ == "__main__":
            for _ in range(30):
                with procmap.Pool(procs=2, start_method="fork") as pool:
                    pool.map(jobs.cube, [1])
            import time
            from conftest import descendants_of
            deadline = time.monotonic() + 10
            while descendants_of(os.getpid()) and time.monotonic() < deadline:
                time.sleep(0.05)
            print(descendants_of(os.getpid()), flush=True)
            time.sleep(0.5)  # room for a stray worker's traceback to arrive
        """
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "[]", f"processes left 10 s after the last pool: {out}"
    assert "cannot connect" not in err and "Traceback" not in err, err
