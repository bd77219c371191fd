"""mode="auto" through the real package (issue 21): threads for items that
wait, one thread for CPU-bound Python, decisions a user can read, and crash
isolation kept when a worker with threads dies (real crashes)."""

import collections
import json
import logging

import jobs
import pytest

import procmap


def _threads_per_worker(values):
    """How many distinct threads ran items in each worker."""
    seen = collections.defaultdict(set)
    for _, pid, thread in values:
        seen[pid].add(thread)
    return {pid: len(threads) for pid, threads in seen.items()}


def test_sleeping_items_get_several_threads_per_worker_and_say_so(caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="procmap")
    journal = tmp_path / "j.jsonl"
    with procmap.Pool(procs=2, mode="auto", journal=journal) as pool:
        values = pool.map(jobs.nap_where, range(400))
        decisions = pool.decisions
    assert [v[0] for v in values] == list(range(400))
    assert any(d.threads > 1 for d in decisions), decisions
    grown = next(d for d in decisions if d.threads > 1)
    assert grown.procs == 2 and "of a CPU while they run" in grown.reason, grown
    assert grown.reason.endswith(f"2 procs × {grown.threads} threads"), grown
    # Items really ran on several threads of one worker at once.
    assert max(_threads_per_worker(values).values()) > 1, _threads_per_worker(values)
    assert any(grown.reason in r.getMessage() for r in caplog.records), "logged on the procmap logger"
    # And in the journal, as the command line writes them: the segment's
    # header says auto, each decision is a line among the records.
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert lines[0]["journal"] == 2 and lines[0]["mode"] == "auto", lines[0]
    written = [(line["auto"]["procs"], line["auto"]["threads"], line["auto"]["reason"])
               for line in lines if "auto" in line]
    told = [(d.procs, d.threads, d.reason) for d in decisions]
    # A decision made once the map's last chunk was in is not in its segment.
    assert written == told[:len(written)] and (grown.procs, grown.threads, grown.reason) in written, written
    assert sum("line" in line for line in lines) == 400


def test_cpu_bound_python_keeps_one_thread_per_worker():
    with procmap.Pool(procs=2, mode="auto") as pool:
        values = pool.map(jobs.spin_where, range(300))
        decisions = pool.decisions
    assert [v[0] for v in values] == list(range(300))
    assert decisions, "the first decision is always told"
    assert all(d.threads == 1 for d in decisions), decisions
    assert "CPU-bound, one thread per worker: 2 procs × 1 thread" in decisions[0].reason, decisions[0]
    assert set(_threads_per_worker(values).values()) == {1}


def test_the_executor_takes_mode_auto_too():
    with procmap.Executor(max_workers=2, mode="auto") as ex:
        futures = [ex.submit(jobs.nap_where, i) for i in range(300)]
        values = [f.result(timeout=60) for f in futures]
        decisions = ex.decisions
    assert [v[0] for v in values] == list(range(300))
    assert any(d.threads > 1 for d in decisions), decisions


@pytest.mark.parametrize("how, retries", [("abort", 1), ("kill", 0)])
def test_a_crash_in_a_worker_with_threads_costs_only_its_culprit(tmp_path, how, retries):
    # The culprit dies among its worker's other threads (every running item
    # counts that run), then alone in a worker of its own: recorded crashed
    # after 2 runs, which is retries + 1 for retries=1; with retries=0 the
    # shared death cannot be pinned, and the run alone is the one more the
    # rule allows (procmap._blame). Every other item ok, once.
    runs_file = tmp_path / "runs"
    journal = tmp_path / "journal.jsonl"
    crash = 200
    items = [(i, str(runs_file), crash, how) for i in range(400)]
    with procmap.Pool(procs=2, mode="auto", retries=retries, journal=journal) as pool:
        results = list(pool.imap_unordered(jobs.nap_counted, items))
        decisions = pool.decisions
    assert any(d.threads > 1 for d in decisions), decisions

    by_index = collections.Counter(r.index for r in results)
    assert sorted(by_index) == list(range(400)) and set(by_index.values()) == {1}
    culprit = next(r for r in results if r.index == crash)
    assert culprit.status == "crashed", culprit
    assert culprit.attempts == 2, culprit
    if how == "abort":
        assert culprit.signal == "SIGABRT"
    else:
        assert culprit.signal == "SIGKILL"
    others = [r for r in results if r.index != crash]
    assert all(r.ok and r.value == r.index for r in others), [r for r in others if not r.ok]
    # The death was shared: items beside the culprit were running, counted
    # that run and ran again (alone), and still ended ok once.
    assert any(r.attempts == 2 for r in others), "no item was running beside the culprit"

    runs = collections.Counter(int(line.split()[0]) for line in runs_file.read_text().splitlines())
    assert runs[crash] == 2, f"the culprit ran {runs[crash]} times"
    assert all(runs[i] >= 1 for i in range(400))
    recorded = procmap.read_journal(journal)
    assert sorted((r.index, r.status) for r in recorded) == sorted((r.index, r.status) for r in results)


def test_mode_is_checked_and_auto_refuses_a_capture(tmp_path):
    with pytest.raises(ValueError, match='mode must be "process" or "auto"'):
        procmap.Pool(procs=1, mode="thread")
    with pytest.raises(ValueError, match='mode must be "process" or "auto"'):
        procmap.Executor(max_workers=1, mode="threads")
    with pytest.raises(ValueError, match="impossible in auto mode"):
        procmap.Pool(procs=1, mode="auto", capture="tail")
    with pytest.raises(ValueError, match="impossible in auto mode"):
        procmap.Pool(procs=1, mode="auto", capture=f"files={tmp_path / 'out'}")
    assert not (tmp_path / "out").exists(), "refused before the directory is made"
    # "none" is what auto does anyway.
    with procmap.Pool(procs=1, mode="auto", capture="none") as pool:
        assert pool.map(jobs.cube, [2]) == [8]
        assert pool.decisions == [] or all(d.procs == 1 for d in pool.decisions)
