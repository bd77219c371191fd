import os
import select
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def supervisor():
    """The `supervisor` binary of this checkout (or $SUPERVISOR); skips the
    test when there is none."""
    for path in (os.environ.get("SUPERVISOR"), f"{ROOT}/target/debug/supervisor", f"{ROOT}/target/release/supervisor"):
        if path and os.access(path, os.X_OK):
            return path
    pytest.skip("no supervisor binary: run `cargo build` (scripts/test.sh runs cargo test first)")


def children_of(pid):
    """Pids of the live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def descendants_of(pid):
    """Pids of the live processes below `pid`: a pool's workers are its
    children (spawn) or its template's (fork)."""
    found, frontier = [], [pid]
    while frontier:
        children = children_of(frontier.pop())
        found.extend(children)
        frontier.extend(children)
    return found


def readline(proc, timeout=60):
    """The next line of proc's stdout, waiting at most `timeout` seconds
    (call it before anything else reads stdout: select() cannot see lines
    already buffered)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        raise AssertionError(f"no output within {timeout}s; stderr: {proc.stderr.read()}")
    return proc.stdout.readline()


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def script(tmp_path):
    """Writes a Python script into tmp_path and returns a function that
    starts it (Popen) with the tests directory importable."""

    def start(code, name="script.py", **kwargs):
        path = tmp_path / name
        path.write_text(textwrap.dedent(code))
        env = dict(os.environ, PYTHONPATH=HERE, PYTHONUNBUFFERED="1")
        return subprocess.Popen(
            [sys.executable, str(path)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    return start
