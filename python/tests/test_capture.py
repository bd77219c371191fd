"""Issue 21 (3): each item's own output, ``capture=``: Python's print()
lands in the item's Result and journal record, or in its own files."""

import json
import os
import subprocess
import sys

import jobs
import pytest
from conftest import supervisor

import procmap


def records_of(path):
    return [json.loads(line) for line in path.read_text().splitlines() if '"journal"' not in line]


BUFFERED = dict(os.environ, PYTHONPATH=os.path.dirname(__file__))
# As most users run: Python's stdout on a pipe is then block-buffered, so
# a print() is in the pipe only once the worker flushes it.
BUFFERED.pop("PYTHONUNBUFFERED", None)

PRINTING = """
import json, sys
import procmap, jobs

if __name__ == "__main__":
    with procmap.Pool(procs=2, capture="tail", journal=sys.argv[1]) as pool:
        results = list(pool.imap_unordered(jobs.talkative, range(6)))
        results += list(pool.imap(jobs.talkative, ["lots"]))
    print(json.dumps([(r.index, r.ok, r.stdout, r.stderr) for r in results]))
"""


def run_script(tmp_path, text, journal):
    """Runs `text` as a script of its own in `tmp_path`, its stdout
    block-buffered as a pipe's is, with the journal's path as argument."""
    (tmp_path / "script.py").write_text(text)
    return subprocess.run([sys.executable, "script.py", str(journal)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=BUFFERED)


def test_print_lands_in_the_result_and_the_journal_record(tmp_path):
    journal = tmp_path / "j.jsonl"
    run = run_script(tmp_path, PRINTING, journal)
    assert run.returncode == 0, run.stderr
    *results, (_, _, lots, _) = json.loads(run.stdout)
    for index, ok, stdout, stderr in results:
        assert ok and stdout == f"item {index}", results
        assert stderr == (f"warn {index}\n" if index % 2 else None), results
    assert len(lots) == 4096 and lots.endswith("y\nend of lots\n"), lots[-40:]
    records = {(r["args"][0], r["line"]): r for r in records_of(journal)}
    assert records[("3", 4)]["stdout"] == "item 3" and records[("3", 4)]["stderr"] == "warn 3\n"
    assert "stderr" not in records[("2", 3)], records[("2", 3)]
    assert "[procmap worker" not in run.stderr, "captured output is not also forwarded"


def test_files_writes_each_item_s_output_to_its_own_files(tmp_path):
    logs = tmp_path / "logs" / "run"
    with procmap.Pool(procs=2, capture=f"files={logs}") as pool:
        assert pool.map(jobs.talkative, range(4)) == [0, 1, 2, 3]
    assert sorted(os.listdir(logs)) == ["0.out", "1.err", "1.out", "2.out", "3.err", "3.out"]
    assert (logs / "2.out").read_text() == "item 2"
    assert (logs / "3.err").read_text() == "warn 3\n"


def test_a_crash_after_print_keeps_the_text_and_faulthandler_s_dump(tmp_path):
    with procmap.Pool(procs=1, capture="tail", retries=0) as pool:
        (r,) = list(pool.imap(jobs.print_then_segfault, ["x"]))
    assert (r.status, r.signal) == ("crashed", "SIGSEGV"), r
    assert "about to crash on x" in r.stderr, r.stderr
    assert "Fatal Python error: Segmentation fault" in r.stderr, r.stderr


def test_capture_values_are_checked(tmp_path):
    with pytest.raises(ValueError, match="none.*tail.*files=DIR"):
        procmap.Pool(procs=1, capture="everything")
    with pytest.raises(ValueError, match="needs a journal"):
        procmap.Executor(max_workers=1, capture="tail")
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="cannot create the directory"):
        procmap.Pool(procs=1, capture=f"files={tmp_path / 'file' / 'logs'}")


TASKS = '''
import sys, procmap

@procmap.task
def say(text):
    print(text)
    print("oops", file=sys.stderr)
    return len(text)
'''


def test_a_python_task_s_print_lands_in_its_command_line_record(tmp_path):
    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "jobs.txt").write_text("say hello\nsay bye\n")
    env = dict(BUFFERED, PROCMAP_PYTHON=sys.executable)
    run = subprocess.run([supervisor(), "-q", "--python", "tasks.py", "-p", "1", "jobs.txt"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    records = {r["line"]: r for r in map(json.loads, run.stdout.splitlines()) if "journal" not in r}
    assert (records[1]["stdout"], records[1]["stderr"]) == ("hello\n", "oops\n"), records
    assert records[2]["stdout"] == "bye\n", records


UNRULY = '''
import os, resource, subprocess, time, procmap

@procmap.task
def chatter():
    "Leaves 4 children writing to the job's stdout for ever: faster than a reader."
    for _ in range(4):
        subprocess.Popen(["yes", "chatter"])
    time.sleep(0.05)
    print("spawned")
    return "spawned"

@procmap.task
def close_stdout():
    os.close(1)
    return "closed"

@procmap.task
def idle_cpu():
    "The CPU seconds this worker (all its threads) uses while its job sleeps."
    used = lambda r: r.ru_utime + r.ru_stime
    before = used(resource.getrusage(resource.RUSAGE_SELF))
    time.sleep(0.5)
    return used(resource.getrusage(resource.RUSAGE_SELF)) - before
'''


def run_unruly(tmp_path, jobs_text):
    (tmp_path / "unruly.py").write_text(UNRULY)
    (tmp_path / "jobs.txt").write_text(jobs_text)
    env = dict(BUFFERED, PROCMAP_PYTHON=sys.executable)
    # Bounded: a job's end that waited for the child's output would hang.
    run = subprocess.run([supervisor(), "-q", "--python", "unruly.py", "-p", "1", "jobs.txt"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    return run, {r["line"]: r for r in map(json.loads, run.stdout.splitlines()) if "journal" not in r}


def test_a_child_that_never_stops_writing_does_not_hold_its_job_s_end(tmp_path):
    run, records = run_unruly(tmp_path, "chatter\nidle_cpu\n")
    assert run.returncode == 0, run.stderr
    assert [records[k]["status"] for k in (1, 2)] == ["ok", "ok"], records


def test_a_closed_stdout_leaves_the_capture_thread_idle(tmp_path):
    run, records = run_unruly(tmp_path, "close_stdout\nidle_cpu\n")
    assert run.returncode == 0, run.stderr
    # A capture thread polling a pipe that has no writer left would spin.
    assert records[2]["value"] < 0.25, records


EXECUTOR = """
import sys
import procmap, jobs

if __name__ == "__main__":
    with procmap.Executor(max_workers=2, capture="tail", journal=sys.argv[1]) as ex:
        print(list(ex.map(jobs.talkative, range(4))))
"""


def test_an_executor_s_map_puts_the_output_in_its_journal(tmp_path):
    journal = tmp_path / "j.jsonl"
    run = run_script(tmp_path, EXECUTOR, journal)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[0, 1, 2, 3]"
    records = {r["line"]: r for r in records_of(journal)}
    assert [records[k].get("stdout") for k in (1, 2, 3, 4)] == ["item 0", "item 1", "item 2", "item 3"], records
    assert records[2]["stderr"] == "warn 1\n", records
