"""Ctrl-C mid-run, and resuming a run that died."""

import collections
import json
import os
import signal
import time

import jobs
import pytest
from conftest import alive, descendants_of, readline

import procmap

INTERRUPTED_SCRIPT = """
import os, sys, time
import procmap, jobs
from conftest import descendants_of

if __name__ == "__main__":
    seen = set()
    try:
        with procmap.Pool(procs=2, chunksize=1, journal="j.jsonl") as pool:
            for n, r in enumerate(pool.imap_unordered(jobs.sleepy, range(100000))):
                seen.add(r.worker)
                if n == 20:
                    print("workers", *sorted(seen), flush=True)
            print("finished without an interrupt", flush=True)
    except KeyboardInterrupt:
        # Wherever it landed (the pool's wait or the loop's body), the pool
        # has stopped once its block is left: no worker is left.
        print("interrupted; children", len(descendants_of(os.getpid())), flush=True)
        time.sleep(0.5)
"""


def test_ctrl_c_stops_the_run_flushes_the_journal_and_leaves_no_worker(script, tmp_path):
    proc = script(INTERRUPTED_SCRIPT)
    line = readline(proc)
    assert line.startswith("workers"), line + proc.stderr.read()
    workers = [int(w) for w in line.split()[1:]]
    assert workers and all(alive(w) for w in workers)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "interrupted; children 0" in out, out + err
    # Jobs take 50 ms and in-flight ones may finish: it ends promptly.
    assert time.monotonic() - sent < 5
    assert not any(alive(w) for w in workers)
    lines = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert "journal" in lines[0], "a run's segment starts with its header"
    records = lines[1:]
    assert len(records) >= 21 and all(r["status"] == "ok" for r in records)
    assert len({r["line"] for r in records}) == len(records)


KILLED_SCRIPT = """
import procmap, jobs
if __name__ == "__main__":
    with procmap.Pool(procs=2, chunksize=4, journal="j.jsonl") as pool:
        for n, r in enumerate(pool.imap_unordered(jobs.slow_cube, range(3000))):
            if n == 400:
                print("running", flush=True)
"""


def test_resume_after_the_supervisor_died_completes_with_one_ok_per_item(script, tmp_path):
    # The Python process running the pool is SIGKILLed mid-run: no chance
    # to clean up. Its workers die with it (parent-death signal).
    proc = script(KILLED_SCRIPT)
    assert readline(proc) == "running\n"
    children = descendants_of(proc.pid)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while any(alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(c) for c in children)
    journal = tmp_path / "j.jsonl"
    before = {r.index for r in procmap.read_journal(journal) if r.ok}
    assert 400 <= len(before) < 3000

    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        rerun = list(pool.imap_unordered(jobs.slow_cube, range(3000)))
    assert {r.index for r in rerun} == set(range(3000)) - before
    oks = collections.Counter(r.index for r in procmap.read_journal(journal) if r.ok)
    assert sorted(oks) == list(range(3000)) and set(oks.values()) == {1}


def test_resume_reruns_only_failed_items_and_map_fills_in_the_rest(tmp_path, monkeypatch):
    flag = tmp_path / "flag"
    flag.touch()
    monkeypatch.setenv("PROCMAP_TEST_FLAG", str(flag))
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, retries=0, journal=journal) as pool:
        first = pool.map(jobs.crash_if_flagged, range(100), return_failures=True)
    crashed = [i for i, v in enumerate(first) if isinstance(v, procmap.Result)]
    assert crashed == list(range(0, 100, 7))
    flag.unlink()
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.crash_if_flagged, range(100)) == [x * 2 for x in range(100)]
    records = procmap.read_journal(journal)
    assert len(records) == 100 + len(crashed)
    oks = collections.Counter(r.index for r in records if r.ok)
    assert set(oks.values()) == {1} and len(oks) == 100
    # A different function is a different item, even with the same index.
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.cube, range(5)) == [x**3 for x in range(5)]
    assert len(procmap.read_journal(journal)) == 100 + len(crashed) + 5
    assert os.path.exists(journal)


def test_breaking_out_early_stops_pulling_and_leaving_the_pool_kills_the_workers_at_once():
    pulled = []

    def items():
        for i in range(100_000):
            pulled.append(i)
            yield i

    with procmap.Pool(procs=2, chunksize=1) as pool:
        results = pool.imap_unordered(jobs.sleepy, items())
        first = [next(results) for _ in range(5)]
        assert len({r.worker for r in first}) >= 1 and descendants_of(os.getpid())
        results.close()
        # A few chunks ahead, never the whole input.
        assert len(pulled) < 50
        # The same workers serve the next call.
        workers = {r.worker for r in first}
        assert set(pool.map(jobs.pid, range(20), chunksize=1)) <= workers | set(descendants_of(os.getpid()))
        assert set(pool.map(jobs.pid, range(20), chunksize=1)) & workers
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert descendants_of(os.getpid()) == []


def test_an_input_that_raises_runs_and_yields_what_was_pulled_then_raises():
    def items():
        yield from range(100)
        raise LookupError("input broke")

    with procmap.Pool(procs=2) as pool:
        seen = []
        try:
            for r in pool.imap_unordered(jobs.cube, items()):
                seen.append(r.index)
        except LookupError as e:
            assert str(e) == "input broke"
        else:
            raise AssertionError("the input's error was swallowed")
        # As multiprocessing's imap: every item pulled before the error.
        assert sorted(seen) == list(range(100))
        with pytest.raises(LookupError):
            list(pool.imap(jobs.cube, items(), results=False))
    assert descendants_of(os.getpid()) == []


BODY_SCRIPT = """
import time
import procmap, jobs

if __name__ == "__main__":
    with procmap.Pool(procs=2, chunksize=1, journal="j.jsonl") as pool:
        for r in pool.imap_unordered(jobs.second, range(100)):
            print("got", r.index, flush=True)
            # Ctrl-C lands here, in the loop's body, not in the pool's wait.
            time.sleep(30)
"""


def test_ctrl_c_in_the_loops_body_lets_items_in_flight_finish_and_be_journaled(script, tmp_path):
    # Issue 19 #10: the same outcome as when Ctrl-C lands in the pool's wait.
    proc = script(BODY_SCRIPT)
    assert readline(proc).startswith("got"), proc.stderr.read()
    # The two workers took their next items when the first ones finished.
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()[1:]]
    # The two first items, and the two that were running at the signal,
    # which finished within stop_grace rather than being killed.
    assert len(records) >= 4 and all(r["status"] == "ok" for r in records), records
    assert len({r["line"] for r in records}) == len(records)
