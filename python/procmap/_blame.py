"""What happens to a chunk whose worker died: a pure function, unit-tested
in python/tests/test_blame.py.

Every chunk a dead worker was running comes back to Python, and the
worker's marker file (crates/procmap-py/src/marker.rs) says, for each, which
of its items was running, and how many *other* chunks were busy in the same
worker: none, unless the worker ran several threads (``mode="auto"``). The
rule, which is the README's:

- an item runs at most ``retries + 1`` times in all; a run is counted when
  the item was running as its worker died;
- the items before the running one had finished, but their results died
  with the worker: they run again, uncounted (their results were never
  recorded, so nothing runs twice after its result is recorded);
- the items after it never started: they run again, uncounted.

A death with nothing else busy in the worker is *pinned*: the running item
is the culprit. It runs again alone, so that a second death blames only it,
until it has used its runs; then it is recorded as crashed (or timeout: a
timeout is recorded at once, not retried). No running item means the chunk
died outside its items (reading its payload, pickling its answer): a lone
item is the culprit; several are each run alone, uncounted, so that the
next death pins one.

A death *shared* with other busy chunks (threads) pins nobody: any of the
running items may have killed the worker. Each running item counts the run
(the culprit's is then counted where it happened) and runs again alone,
whatever its count, since it may be innocent; a chunk that was busy outside
its items has each item run alone, uncounted. Alone means, under auto, in a
worker that runs nothing else meanwhile (``submit(alone=True)``): the next
death of such an item is pinned. So an innocent is never recorded as
crashed, and a culprit is recorded after ``retries + 1`` runs, except with
``retries=0``, where a shared first death leaves it one run alone more (two
in all): no rule can tell it from its neighbours without one.
"""

RERUN = "rerun"  # run these positions again, together, uncounted
ALONE = "alone"  # run this position again, alone
FAIL = "fail"  # record this position as failed (crashed or timeout)


def after_death(size, marked, runs, retries, timed_out=False, others=0):
    """Decisions for a chunk of ``size`` items whose worker died.

    ``marked`` is the position of the item that was running, or None;
    ``runs`` the counted runs of each item so far (before this one);
    ``others`` how many other chunks were busy in the same worker (a
    timeout is always the chunk that overran: ``others`` does not apply).
    Returns a list of ``(RERUN, [positions])``, ``(ALONE, position, runs)``
    and ``(FAIL, position, runs)``, where ``runs`` is the item's counted
    runs including this one."""
    if size <= 0:
        raise ValueError("a chunk holds at least one item")
    if marked is not None and not 0 <= marked < size:
        marked = None
    shared = others > 0 and not timed_out
    if marked is None:
        if size == 1 and not shared:
            marked = 0
        else:
            return [(ALONE, p, runs[p]) for p in range(size)]
    decisions = []
    if marked > 0:
        decisions.append((RERUN, list(range(marked))))
    counted = runs[marked] + 1
    if not shared and (timed_out or counted > retries):
        decisions.append((FAIL, marked, counted))
    else:
        decisions.append((ALONE, marked, counted))
    if marked + 1 < size:
        decisions.append((RERUN, list(range(marked + 1, size))))
    return decisions
