"""Prints scripts/bench's final table: `|`-separated rows on stdin, the first
a header, aligned in columns (widths in characters, not bytes)."""
import sys

rows = [line.rstrip("\n").split("|") for line in sys.stdin.buffer.read().decode("utf-8").splitlines() if line]
widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(map(len, rows)))]
out = []
for k, r in enumerate(rows):
    out.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if k == 0:
        out.append("  " + "  ".join("-" * w for w in widths))
sys.stdout.buffer.write(("\n".join(out) + "\n").encode("utf-8"))
