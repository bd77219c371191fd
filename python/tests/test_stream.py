"""A million items stream through with flat memory: the input generator is
pulled as workers need it and results are not kept."""

import jobs

import procmap


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_million_items_stream_with_flat_memory():
    n = 1_000_000
    pulled = 0

    def items():
        nonlocal pulled
        for i in range(n):
            pulled += 1
            yield i

    done = 0
    total = 0
    ahead = 0
    rss_early = None
    with procmap.Pool(procs=2, chunksize=64) as pool:
        for r in pool.imap_unordered(jobs.cube, items()):
            assert r.ok
            total += r.value
            done += 1
            ahead = max(ahead, pulled - done)
            if done == 100_000:
                rss_early = rss_bytes()
    assert done == n and total == sum(x**3 for x in range(n))
    growth = rss_bytes() - rss_early
    # Everything in memory would be ~100 MB of pickles and Results.
    assert growth < 20 << 20, f"RSS grew by {growth >> 20} MiB after the first 100,000 items"
    # The generator was never far ahead of the results: the input is streamed.
    assert ahead < 50_000, ahead
