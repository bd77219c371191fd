"""What happens to a chunk whose worker died: a pure function, unit-tested
in python/tests/test_blame.py.

The engine pins a death on the one chunk that was running (exact blame), and
the worker's marker (crates/procmap-py/src/marker.rs) says which item of it
had started last. The rule, which is the README's:

- an item runs at most ``retries + 1`` times in all; a run is counted when
  the item was the one running as its worker died;
- the items before the marked one had finished, but their results died with
  the worker: they run again, uncounted (their results were never
  recorded, so nothing runs twice after its result is recorded);
- the items after it never started: they run again, uncounted;
- the marked item is the culprit: it runs again alone, so that a second
  death blames only it, until it has used its runs; then it is recorded as
  crashed (or timeout: a timeout is recorded at once, not retried);
- no mark for this chunk means the worker died before it started any item
  (e.g. while unpickling the chunk): a lone item is the culprit; several
  are each run alone, uncounted, so that the next death pins one.
"""

RERUN = "rerun"  # run these positions again, together, uncounted
ALONE = "alone"  # run this position again, alone
FAIL = "fail"  # record this position as failed (crashed or timeout)


def after_death(size, marked, runs, retries, timed_out=False):
    """Decisions for a chunk of ``size`` items whose worker died.

    ``marked`` is the position of the item that was running, or None;
    ``runs`` the counted runs of each item so far (before this one). Returns
    a list of ``(RERUN, [positions])``, ``(ALONE, position, runs)`` and
    ``(FAIL, position, runs)``, where ``runs`` is the culprit's counted runs
    including this one."""
    if size <= 0:
        raise ValueError("a chunk holds at least one item")
    if marked is None or not 0 <= marked < size:
        if size == 1:
            marked = 0
        else:
            return [(ALONE, p, runs[p]) for p in range(size)]
    decisions = []
    if marked > 0:
        decisions.append((RERUN, list(range(marked))))
    counted = runs[marked] + 1
    if timed_out or counted > retries:
        decisions.append((FAIL, marked, counted))
    else:
        decisions.append((ALONE, marked, counted))
    if marked + 1 < size:
        decisions.append((RERUN, list(range(marked + 1, size))))
    return decisions
