"""halt= (issue 21): a call stops early when its batch is clearly broken,
with the command line's --halt policy; what ran is yielded and journaled,
procmap.Halted is raised, and resume=True finishes the batch."""

import collections
import json

import jobs
import pytest

import procmap


def records_of(path):
    lines = [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]
    return [r for r in lines if "journal" not in r]


def test_halt_soon_stops_after_the_third_failure_and_a_resume_finishes_the_batch(tmp_path):
    journal = tmp_path / "j.jsonl"
    # Every tenth item raises: the third failure is item 20 of 600.
    items = ["raise" if i % 10 == 0 else i for i in range(600)]
    seen = []
    with procmap.Pool(procs=2, chunksize=1, journal=journal, halt="soon,fail=3") as pool:
        with pytest.raises(procmap.Halted, match=r"halted by halt= soon,fail=3: 3 not ok"):
            for r in pool.imap_unordered(jobs.faulty, items):
                seen.append(r)
    first = records_of(journal)
    # Everything yielded was journaled, and far from everything ran: the
    # chunks in flight when it fired finished, nothing more was pulled.
    assert len(first) == len(seen)
    assert 3 <= sum(not r.ok for r in seen) and len(seen) < 100, len(seen)
    assert sorted(r["line"] - 1 for r in first) == sorted(r.index for r in seen)

    with procmap.Pool(procs=2, chunksize=8, journal=journal, resume=True) as pool:
        values = [r.value for r in pool.imap(jobs.faulty, items) if r.ok]
    assert values == [i**3 for i in range(600) if i % 10]
    ok = collections.Counter(r["line"] - 1 for r in records_of(journal) if r["status"] == "ok")
    # Each ok item ran once in all: the resume skipped what the halted call did.
    assert set(ok) == {i for i in range(600) if i % 10} and set(ok.values()) == {1}


def test_halt_now_kills_the_items_in_flight_and_the_pool_runs_its_next_call(tmp_path):
    journal = tmp_path / "j.jsonl"
    items = ["raise"] + ["hang"] * 5
    with procmap.Pool(procs=2, chunksize=1, journal=journal, halt="now,fail=1") as pool:
        with pytest.raises(procmap.Halted, match="now,fail=1"):
            list(pool.imap_unordered(jobs.faulty, items))
        # Killed, not waited for: only the failure is recorded.
        assert [r["status"] for r in records_of(journal)] == ["error"]
        assert pool.map(jobs.cube, range(5)) == [0, 1, 8, 27, 64]


def test_map_and_executor_map_raise_halted_and_success_counts_too():
    with procmap.Pool(procs=2, chunksize=1, halt="soon,success=3") as pool:
        with pytest.raises(procmap.Halted, match="success=3"):
            pool.map(jobs.slow_cube, range(200))
    with procmap.Executor(max_workers=2, halt="soon,success=3") as ex:
        got = []
        with pytest.raises(procmap.Halted):
            for v in ex.map(jobs.slow_cube, range(200)):
                got.append(v)
        assert 3 <= len(got) < 200 and got == [i**3 for i in range(len(got))]


@pytest.mark.parametrize("bad", ["later,fail=3", "soon", "soon,fail=0", "now,fail=101%", 3])
def test_a_bad_halt_policy_is_refused_when_the_pool_is_made(bad):
    with pytest.raises((ValueError, TypeError), match="halt"):
        procmap.Pool(procs=1, halt=bad)
