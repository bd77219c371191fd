"""@procmap.task functions as the command line's tasks: `supervisor
--python FILE`, and `supervisor --worker` with a wrapper script that runs
`python -m procmap._worker --tasks FILE`."""

import json
import os
import subprocess
import sys

from conftest import supervisor

TASKS = '''
import os, procmap

@procmap.task
def shout(text, times="1"):
    "Upper-cases TEXT, TIMES times."
    return {"text": " ".join([text.upper()] * int(times))}

@procmap.task
def crash(kind):
    if kind == "segfault":
        import ctypes
        ctypes.string_at(0)
    raise ValueError(kind)

@procmap.task
def notjson(x):
    return {1, 2}

if __name__ == "__main__":
    raise SystemExit("the main block must not run in a worker")
'''


def test_supervisor_runs_and_lists_python_tasks(tmp_path):
    exe = supervisor()
    (tmp_path / "tasks.py").write_text(TASKS)
    wrapper = tmp_path / "worker"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m procmap._worker --tasks "{tmp_path}/tasks.py"\n')
    wrapper.chmod(0o755)
    listed = subprocess.run([exe, "tasks", "--worker", wrapper], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "shout TEXT [TIMES]" in listed.stdout and "Upper-cases TEXT" in listed.stdout
    (tmp_path / "jobs.txt").write_text("shout hello\nshout hi 3\ncrash segfault\ncrash boom\nnotjson 1\n")
    run = subprocess.run(
        [exe, "--worker", wrapper, "-p", "2", "--retries", "1", tmp_path / "jobs.txt"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr  # some jobs failed
    records = {r["line"]: r for r in map(json.loads, run.stdout.splitlines()) if "journal" not in r}
    assert sorted(records) == [1, 2, 3, 4, 5]
    assert records[1]["value"] == {"text": "HELLO"} and records[2]["value"] == {"text": "HI HI HI"}
    assert (records[3]["status"], records[3]["signal"]) == ("crashed", "SIGSEGV")
    assert records[4]["status"] == "error" and records[4]["error"].startswith("ValueError: boom")
    assert "not JSON-serializable" in records[5]["error"]


def test_supervisor_python_runs_and_lists_a_file_s_tasks(tmp_path):
    exe = supervisor()
    (tmp_path / "tasks.py").write_text(TASKS)
    # The interpreter of this virtualenv, which has the procmap package.
    env = dict(os.environ, PROCMAP_PYTHON=sys.executable)
    listed = subprocess.run(
        [exe, "tasks", "--python", "tasks.py"], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    )
    assert listed.returncode == 0, listed.stderr
    assert "shout TEXT [TIMES]" in listed.stdout and "Upper-cases TEXT" in listed.stdout
    (tmp_path / "jobs.txt").write_text("shout hello\ncrash segfault\nshout hi 2\n")
    run = subprocess.run(
        [exe, "--python", "tasks.py", "-p", "2", "--retries", "0", "jobs.txt"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 1, run.stderr
    records = {r["line"]: r for r in map(json.loads, run.stdout.splitlines()) if "journal" not in r}
    assert records[1]["value"] == {"text": "HELLO"} and records[3]["value"] == {"text": "HI HI"}
    assert (records[2]["status"], records[2]["signal"]) == ("crashed", "SIGSEGV")
    missing = subprocess.run([exe, "--python", "nope.py", "jobs.txt"], capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr
