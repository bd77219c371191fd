"""The journal of a Python run is the command line's (issue 17): read right
by `supervisor status` and `supervisor merge`, locked against a second
writer, its torn tail cut on resume; items and values as JSON when they
round-trip exactly, pickled otherwise. Regressions of issue 19 carry its
numbers."""

import collections
import itertools
import json
import math
import subprocess
import threading
import time

import jobs
import pytest
from conftest import alive, descendants_of, readline, supervisor

import procmap
from procmap._result import read_journal_records


def lines_of(path):
    """Every line of a journal, parsed: a line that is not JSON fails."""
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def records_of(path):
    return [r for r in lines_of(path) if "journal" not in r]


def status_json(path):
    out = subprocess.run([supervisor(), "status", "--json", path], capture_output=True, text=True, timeout=60)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def test_status_and_merge_count_repeated_python_items_as_distinct_jobs(tmp_path):
    # Issue 17: `status` said 3 jobs, "1 recorded ok more than once"; merge
    # wrote 3 records.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, journal=journal) as pool:
        assert pool.map(jobs.cube, [1, 2, 2, 3]) == [1, 8, 8, 27]
    report = status_json(journal)
    assert report["total"]["jobs"] == 4 and report["total"]["ok"] == 4, report
    assert (report["ok_twice"], report["torn_lines"], report["all_ok"]) == (0, 0, True)
    merged = tmp_path / "merged.jsonl"
    out = subprocess.run([supervisor(), "merge", "-o", merged, journal], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(r["value"] for r in records_of(merged)) == [1, 8, 8, 27]


def test_resume_counts_repeated_items_and_status_agrees(tmp_path):
    # Two of three equal items were recorded: a resume runs the third only,
    # and its record says which occurrence it is.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=1, journal=journal) as pool:
        pool.map(jobs.cube, [7, 7, 1])
    with procmap.Pool(procs=1, journal=journal, resume=True) as pool:
        rerun = list(pool.imap_unordered(jobs.cube, [7, 1, 7, 7]))
    assert [(r.index, r.value) for r in rerun] == [(3, 343)]
    assert records_of(journal)[-1]["occurrence"] == 2
    total = status_json(journal)["total"]
    assert (total["jobs"], total["ok"]) == (4, 4), total


def test_items_and_values_are_json_when_exact_and_pickled_otherwise(tmp_path):
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=1, journal=journal) as pool:
        assert pool.map(jobs.cube, [2]) == [8]
    (record,) = records_of(journal)
    assert (record["args"], record["value"]) == (["2"], 8)

    exact = [None, True, 1, -(2**63), 2**64 - 1, 1.0, -0.0, 1e300, "é\n\"x\"", [1, [2.5]], {"a": [None], "b": {}}]
    other = [
        (1, 2), {1, 2}, jobs.Point(1, 2.5), jobs.Color.RED, 2**64, float("nan"), b"bytes",
        {"b": 1, "a": 2}, {"$pickle": "x"}, {1: "int key"}, [1, (2,)], "\ud800",
    ]
    items = exact + other
    with procmap.Pool(procs=1, journal=journal) as pool:
        values = pool.map(jobs.echo, items)
    records = records_of(journal)
    assert len(records) == len(items)
    for record in records:
        item = items[record["line"] - 1]
        text = record["args"][0]
        if record["line"] <= len(exact):
            assert json.loads(text) == item and record["value"] == item, record
        else:
            assert text.startswith("pickle:"), record
            assert list(record["value"]) == ["$pickle"], record
    results = sorted(procmap.read_journal(journal), key=lambda r: r.index)
    assert all(r.ok for r in results)
    for got, item, value in zip(results, items, values):
        for back in (got.item, got.value, value):
            if isinstance(item, float) and math.isnan(item):
                assert math.isnan(back)
                continue
            assert back == item and type(back) is type(item), (item, back)
            if isinstance(item, dict):
                assert list(back) == list(item), "key order is kept"
            if isinstance(item, float):
                assert math.copysign(1, back) == math.copysign(1, item)
    # The raw records, as they are on disk.
    raw = read_journal_records(journal)
    assert [(r["args"], r["value"]) for r in raw] == [(r["args"], r["value"]) for r in records]


def test_a_chunk_s_records_carry_each_item_s_value_error_output_and_time(tmp_path):
    """The worker writes a chunk's entries and the journal thread reads
    them in place: every kind of entry in one chunk comes out right."""
    journal = tmp_path / "j.jsonl"
    items = [1, "raise", "lambda", "é\n\"x\"", [4, None]]
    with procmap.Pool(procs=1, chunksize=len(items), journal=journal, capture="tail") as pool:
        results = sorted(pool.imap_unordered(jobs.varied, items), key=lambda r: r.index)
    assert [r.ok for r in results] == [True, False, False, True, True]
    records = sorted(records_of(journal), key=lambda r: r["line"])
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5]
    assert [r["status"] for r in records] == ["ok", "error", "error", "ok", "ok"]
    assert [r["args"] for r in records] == [[json.dumps(item, ensure_ascii=False, separators=(",", ":"))]
                                            for item in items]
    assert [r.get("value") for r in records] == [1, None, None, "é\n\"x\"", [4, None]]
    assert records[1]["error"].startswith("ValueError: bad item"), records[1]
    assert records[2]["error"].startswith("cannot pickle the return value"), records[2]
    assert [r["stdout"] for r in records] == [f"item {x}" for x in items]
    assert {(r["task"], r["attempts"], r["worker"]) for r in records} == {("jobs.varied", 1, results[0].worker)}
    # One chunk: each item starts as the one before it ends, to the
    # nanosecond the times are written in.
    for before, after in zip(records, records[1:]):
        assert round((after["start"] - before["start"] - before["ms"]) * 1e6) == 0, (before, after)


def test_a_second_process_writing_the_journal_is_refused_by_the_lock(script, tmp_path):
    # Issue 19 (4): two processes on one journal were not refused.
    proc = script(
        """
        import procmap, jobs
        if __name__ == "__main__":
            with procmap.Pool(procs=1, chunksize=1, journal="j.jsonl") as pool:
                for n, r in enumerate(pool.imap_unordered(jobs.sleepy, range(100))):
                    if n == 2:
                        print("running", flush=True)
        """
    )
    try:
        assert readline(proc) == "running\n"
        journal = tmp_path / "j.jsonl"
        for resume in (False, True):
            with procmap.Pool(procs=1, journal=journal, resume=resume) as pool:
                with pytest.raises(procmap.PoolError, match="locked: another writer holds it") as caught:
                    pool.map(jobs.cube, range(3))
            assert str(journal) in str(caught.value)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
    # Nothing was truncated or interleaved: the first run's 100 records.
    assert sorted(r["line"] for r in records_of(journal)) == list(range(1, 101))


def test_two_threads_running_one_pool_s_journal_never_truncate_it(tmp_path):
    # Issue 19 (3): both runs opened the journal truncating, and records
    # were lost. Now the second run is refused while the first writes.
    journal = tmp_path / "j.jsonl"
    started = threading.Event()
    first = []

    def run_first(pool):
        for r in pool.imap_unordered(jobs.sleepy, range(40)):
            first.append(r)
            started.set()

    with procmap.Pool(procs=1, chunksize=1, journal=journal) as pool:
        thread = threading.Thread(target=run_first, args=(pool,))
        thread.start()
        try:
            assert started.wait(60), "the first run yielded nothing within 60 s"
            with pytest.raises(procmap.PoolError, match="locked"):
                pool.map(jobs.cube, range(5))
        finally:
            # Leaving the pool stops its runs: the first must have ended.
            thread.join(60)
        assert not thread.is_alive(), "the first run did not end within 60 s"
        # Once it is done, the pool's next run appends.
        assert pool.map(jobs.cube, range(5)) == [x**3 for x in range(5)]
    assert len(first) == 40
    assert len(records_of(journal)) == 45


def test_resume_runs_an_edited_item_and_map_returns_each_item_s_own_value(tmp_path):
    # Issue 19 (1): map took a skipped item's value from the first record
    # with its index and function name, however old: an edited item got
    # the value of what stood there before.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.cube, [1, 2, 3]) == [1, 8, 27]
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.cube, [1, 5, 3]) == [1, 125, 27]
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.cube, [1, 5, 3]) == [1, 125, 27]
        # Identity is content, not place: moved items are still done.
        assert pool.map(jobs.cube, [3, 5, 2, 1]) == [27, 125, 8, 1]
    assert len(records_of(journal)) == 4


def cut_inside_last_record(path, inside=b""):
    """Cuts the journal inside its last record: after the first byte of
    `inside` (a UTF-8 character) when given, else in its middle. Returns
    the number of whole records left."""
    data = path.read_bytes()
    start = data.rindex(b"\n", 0, len(data) - 1) + 1
    cut = data.index(inside, start) + 1 if inside else start + (len(data) - start) // 2
    path.write_bytes(data[:cut])
    return len([r for r in lines_of_bytes(data[:start]) if "journal" not in r])


def lines_of_bytes(data):
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_a_journal_cut_mid_record_is_read_and_repaired_on_resume(tmp_path):
    # Issue 19 (5) and issue 17: the first new record was glued onto the
    # fragment.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, journal=journal) as pool:
        pool.map(jobs.cube, range(50))
    whole = cut_inside_last_record(journal)
    assert len(procmap.read_journal(journal)) == whole == 49
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.cube, range(50)) == [x**3 for x in range(50)]
    oks = collections.Counter(r["line"] for r in records_of(journal) if r["status"] == "ok")
    assert sorted(oks) == list(range(1, 51)) and set(oks.values()) == {1}
    report = status_json(journal)
    assert (report["total"]["jobs"], report["total"]["ok"], report["torn_lines"]) == (50, 50, 0)


def test_a_journal_cut_inside_a_utf8_character_is_read_and_resumed(tmp_path):
    # Issue 19 (5): read_journal raised UnicodeDecodeError, resume=True
    # PoolError.
    journal = tmp_path / "j.jsonl"
    items = [f"é{i}" for i in range(30)]
    with procmap.Pool(procs=2, journal=journal) as pool:
        pool.map(jobs.echo, items)
    whole = cut_inside_last_record(journal, "é".encode())
    assert journal.read_bytes().endswith(b"\xc3")
    assert len(procmap.read_journal(journal)) == whole == 29
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        assert pool.map(jobs.echo, items) == items
    oks = collections.Counter(r["args"][0] for r in records_of(journal) if r["status"] == "ok")
    assert sorted(oks) == sorted(json.dumps(i, ensure_ascii=False) for i in items) and set(oks.values()) == {1}


KILLED_SCRIPT = """
import procmap, jobs
if __name__ == "__main__":
    with procmap.Pool(procs=2, chunksize=4, journal="j.jsonl") as pool:
        for n, r in enumerate(pool.imap_unordered(jobs.slow_echo, [f"é{i}" for i in range(2000)])):
            if n == 300:
                print("running", flush=True)
"""


def test_a_python_parent_killed_mid_run_resumes_to_one_ok_per_item(script, tmp_path):
    # Issue 19 (5) with a real kill -9 of the Python process that runs the
    # pool; the journal is then also cut inside a character of its last
    # record, as a kill mid-write leaves it.
    proc = script(KILLED_SCRIPT)
    assert readline(proc) == "running\n"
    children = descendants_of(proc.pid)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(c) for c in children), "the workers outlived their parent by 10 s"
    journal = tmp_path / "j.jsonl"
    cut_inside_last_record(journal, "é".encode())
    before = {r.index for r in procmap.read_journal(journal) if r.ok}
    assert 300 <= len(before) < 2000
    items = [f"é{i}" for i in range(2000)]
    with procmap.Pool(procs=2, journal=journal, resume=True) as pool:
        rerun = list(pool.imap_unordered(jobs.slow_echo, items))
    assert {r.index for r in rerun} == set(range(2000)) - before
    oks = collections.Counter(r["line"] for r in records_of(journal) if r["status"] == "ok")
    assert sorted(oks) == list(range(1, 2001)) and set(oks.values()) == {1}
    report = status_json(journal)
    assert (report["total"]["jobs"], report["total"]["ok"], report["torn_lines"]) == (2000, 2000, 0)


def test_a_journal_from_a_newer_procmap_is_refused_by_name(tmp_path):
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"journal":99,"writer":"procmap 9"}\n')
    with pytest.raises(ValueError, match="format 99 by a newer procmap"):
        procmap.read_journal(journal)
    with procmap.Pool(procs=1, journal=journal, resume=True) as pool:
        with pytest.raises(procmap.PoolError, match="format 99 by a newer procmap"):
            pool.map(jobs.cube, range(3))


def test_a_failed_items_record_quotes_an_overlong_item_instead_of_holding_it(tmp_path):
    # Issue 19, frictions: the record of a 2 MB item that crashed its worker
    # says how long the item was and how it starts, in a line of bounded
    # size; a short one is recorded whole.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=1, retries=0, journal=journal) as pool:
        results = pool.map(jobs.exit3, ["short", b"x" * (2 << 20)], chunksize=1, return_failures=True)
    assert [r.status for r in results] == ["crashed", "crashed"]
    lines = journal.read_text().splitlines()
    assert all(len(line) < 10_000 for line in lines), [len(line) for line in lines]
    by_line = {r["line"]: r for r in map(json.loads, lines[1:])}
    assert by_line[1]["args"] == ['"short"']
    assert by_line[2]["args"] == [] and "bytes, not recorded; it starts with \"pickle:" in by_line[2]["error"], by_line[2]


def test_report_draws_a_python_run_with_its_failures(tmp_path):
    # Issue 22 item 3: the command line's page for a Python run; each
    # record carries its start, so every item is drawn.
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, retries=0, journal=journal) as pool:
        pool.map(jobs.faulty, [1, "raise", 3, "exit3"] + list(range(20)), return_failures=True)
    records = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert all(isinstance(r.get("start"), (int, float)) for r in records), records[:2]
    out = tmp_path / "report.html"
    assert procmap.report(journal, out) == (24, 24)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "http://" not in page.replace("http://www.w3.org", "")
    assert "ValueError: bad item" in page and "crashed" in page
    with pytest.raises(ValueError, match="procmap.report"):
        procmap.report(tmp_path / "missing.jsonl", out)


def test_executor_map_writes_the_journal_and_resumes_from_it(tmp_path):
    # Issue 18: the journal works through every surface, Executor.map too.
    journal = tmp_path / "j.jsonl"
    with procmap.Executor(max_workers=2, journal=journal) as ex:
        assert list(ex.map(jobs.cube, range(20))) == [i**3 for i in range(20)]
    assert sorted(r["line"] for r in records_of(journal)) == list(range(1, 21))
    # Items 0..19 are done; 20..24 are new, and item 3 was edited.
    items = [i for i in range(25)]
    items[3] = 1000
    with procmap.Executor(max_workers=2, journal=journal, resume=True) as ex:
        assert list(ex.map(jobs.cube, items)) == [i**3 for i in items]
    # Executor.map calls fn(*args): an item is its tuple of arguments.
    ran = [r.item for r in procmap.read_journal(journal)[20:]]
    assert sorted(ran) == [(20,), (21,), (22,), (23,), (24,), (1000,)]
    with pytest.raises(ValueError, match="resume=True needs a journal"):
        procmap.Executor(max_workers=1, resume=True)


def test_submitted_calls_are_journaled_and_a_resume_runs_only_those_not_done(tmp_path):
    # Issue 18: the journal and resume work through every surface, submit
    # and apply_async too. Each run of a call leaves a line in `runs`.
    journal, runs = tmp_path / "j.jsonl", tmp_path / "runs"
    with procmap.Executor(max_workers=2, retries=0, journal=journal) as ex:
        futures = [ex.submit(jobs.counted, str(runs), x) for x in range(10)]
        futures.append(ex.submit(jobs.counted, str(runs), 3, power=3))
        assert [f.result(timeout=60) for f in futures] == [x**2 for x in range(10)] + [27]
        # Alone, so that the calls beside it in its chunk do not run again.
        crashed = ex.submit(jobs.faulty, "segfault")
        with pytest.raises(procmap.WorkerCrashed):
            crashed.result(timeout=60)
    records = sorted(records_of(journal), key=lambda r: r["line"])
    assert [r["line"] for r in records] == list(range(1, 13))
    assert [r["task"] for r in records] == ["jobs.counted"] * 11 + ["jobs.faulty"]
    assert [r["status"] for r in records] == ["ok"] * 11 + ["crashed"]
    assert [r.get("value") for r in records[:11]] == [x**2 for x in range(10)] + [27]
    items = {r.index: r.item for r in procmap.read_journal(journal)}
    assert items[0] == ((str(runs), 0), {}) and items[10] == ((str(runs), 3), {"power": 3}), items
    assert sorted(runs.read_text().split()) == sorted(str(x) for x in list(range(10)) + [3])

    # The resume: calls recorded ok give their recorded values without
    # running; a new call, an edited one (other kwargs) and the crashed one
    # run. apply_async on a Pool does the same.
    runs.unlink()
    with procmap.Pool(procs=2, retries=0, journal=journal, resume=True) as pool:
        done = [pool.apply_async(jobs.counted, (str(runs), x)) for x in range(10)]
        edited = pool.apply_async(jobs.counted, (str(runs), 3), {"power": 4})
        new = pool.apply_async(jobs.counted, (str(runs), 11))
        assert [r.get(timeout=60) for r in done] == [x**2 for x in range(10)]
        assert (edited.get(timeout=60), new.get(timeout=60)) == (81, 121)
        again = pool.apply_async(jobs.faulty, ("segfault",))
        with pytest.raises(procmap.WorkerCrashed):
            again.get(timeout=60)
    assert sorted(runs.read_text().split()) == ["11", "3"]
    resumed = records_of(journal)[12:]
    assert sorted(r["task"] for r in resumed) == ["jobs.counted", "jobs.counted", "jobs.faulty"]


def test_a_journaled_map_takes_the_journal_from_idle_submitted_calls_not_from_running_ones(tmp_path):
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, journal=journal) as pool:
        assert pool.apply_async(jobs.cube, (2,)).get(timeout=60) == 8
        # No call runs: the map takes the journal, then the calls take it
        # back.
        assert pool.map(jobs.cube, [1, 2]) == [1, 8]
        assert pool.apply_async(jobs.cube, (3,)).get(timeout=60) == 27
        # A call runs: a map would interleave its segment with its records.
        # (Long enough that it surely still runs when the map asks, on a
        # loaded machine too.)
        slow = pool.apply_async(time.sleep, (1.0,))
        with pytest.raises(procmap.PoolError, match="held by this pool's submit"):
            pool.map(jobs.cube, [4])
        assert slow.get(timeout=60) is None
        assert pool.map(jobs.cube, [5]) == [125]
    lines = lines_of(journal)
    segments = [[r.get("task") for r in lines[i + 1:]] for i, r in enumerate(lines) if "journal" in r]
    # Each writer's records follow its own header.
    cut = [[t for t in itertools.takewhile(lambda t: t is not None, seg)] for seg in segments]
    assert cut == [["jobs.cube"], ["jobs.cube", "jobs.cube"], ["jobs.cube", "time.sleep"], ["jobs.cube"]], lines


def test_a_submitted_call_s_captured_output_lands_in_its_record(tmp_path):
    # An Executor's futures give values: capture="tail" lands in the
    # journal's records, of submit calls too.
    journal = tmp_path / "j.jsonl"
    with procmap.Executor(max_workers=1, capture="tail", journal=journal) as ex:
        assert ex.submit(jobs.chatty, 5).result(timeout=60) == 5
    (record,) = records_of(journal)
    assert (record["task"], record["stdout"]) == ("jobs.chatty", "item 5 on stdout\n"), record
    assert record["stderr"].startswith("item 5 on stderr"), record
