"""procmap._blame.after_death: what a dead worker's chunk becomes (the rule
in its docstring and the README: an item runs at most retries + 1 times, and
no neighbour is blamed)."""

import pytest

from procmap._blame import ALONE, FAIL, RERUN, after_death


def test_the_marked_item_is_the_culprit_and_its_neighbours_rerun_uncounted():
    assert after_death(5, 2, [0, 0, 0, 0, 0], retries=2) == [
        (RERUN, [0, 1]),
        (ALONE, 2, 1),
        (RERUN, [3, 4]),
    ]


def test_a_culprit_out_of_runs_is_recorded_at_once():
    # retries=0: one run in all, so the first death is final.
    assert after_death(3, 0, [0, 0, 0], retries=0) == [(FAIL, 0, 1), (RERUN, [1, 2])]
    # retries=2: the third counted run is the last.
    assert after_death(1, 0, [2], retries=2) == [(FAIL, 0, 3)]
    assert after_death(1, 0, [1], retries=2) == [(ALONE, 0, 2)]


def test_a_timeout_is_recorded_without_a_retry():
    assert after_death(1, 0, [0], retries=5, timed_out=True) == [(FAIL, 0, 1)]


def test_no_mark_blames_a_lone_item_and_splits_a_chunk_without_counting():
    assert after_death(1, None, [0], retries=1) == [(ALONE, 0, 1)]
    assert after_death(3, None, [0, 1, 0], retries=1) == [(ALONE, 0, 0), (ALONE, 1, 1), (ALONE, 2, 0)]
    # A mark outside the chunk is no mark.
    assert after_death(2, 7, [0, 0], retries=1) == [(ALONE, 0, 0), (ALONE, 1, 0)]


def test_an_empty_chunk_is_a_bug():
    with pytest.raises(ValueError):
        after_death(0, None, [], retries=1)


# A death shared with other busy chunks (a worker with threads, mode="auto").


def test_a_shared_death_counts_the_running_item_but_never_fails_it():
    # The running item counts its run and reruns alone, even past its
    # retries: it may be innocent. Its neighbours rerun uncounted.
    assert after_death(4, 1, [0, 0, 0, 0], retries=2, others=3) == [
        (RERUN, [0]),
        (ALONE, 1, 1),
        (RERUN, [2, 3]),
    ]
    assert after_death(1, 0, [0], retries=0, others=1) == [(ALONE, 0, 1)]
    assert after_death(1, 0, [5], retries=2, others=1) == [(ALONE, 0, 6)]


def test_a_culprit_alone_after_a_shared_death_is_recorded_within_its_runs():
    # retries=1: counted once in the shared death, then pinned alone.
    runs = [0]
    (kind, _, counted), = after_death(1, 0, runs, retries=1, others=2)
    assert (kind, counted) == (ALONE, 1)
    assert after_death(1, 0, [counted], retries=1) == [(FAIL, 0, 2)]


def test_a_chunk_busy_outside_its_items_in_a_shared_death_has_each_item_run_alone_uncounted():
    # A lone item too: the death may be a neighbour's.
    assert after_death(1, None, [0], retries=2, others=1) == [(ALONE, 0, 0)]
    assert after_death(2, None, [1, 0], retries=2, others=1) == [(ALONE, 0, 1), (ALONE, 1, 0)]


def test_a_timeout_is_its_own_chunk_whatever_else_was_busy():
    assert after_death(1, 0, [0], retries=2, timed_out=True, others=5) == [(FAIL, 0, 1)]
