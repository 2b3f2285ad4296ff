#!/usr/bin/env python3
"""Which B-trees the writer's commits write their pages to.

    tools/commit-pages.py --pid PID --data-dir DIR [--seconds 3] [--last 20]

Attaches strace to the server's `ledger-writer` thread for --seconds and
records every page LMDB writes (`pwrite64`, or `lseek` and `writev`) and every
`fdatasync`; a commit is the pages flushed by an `fdatasync` that LMDB
follows with its meta page. Then, once the writer has been idle for a second
(or after 30 s, with a warning), it reads `data.mdb` itself: the newer meta page, the main database's
records of the named databases, and each B-tree from its root, so it knows
which tree and level each page belongs to. For the last --last commits it
prints pages per commit by tree and kind (leaf, branch, overflow), and the
depth and size of every tree.

Run the load so that it ends while or shortly after the trace does: a page
a later commit frees and reuses is counted under what it holds at the end
(or as `(free now)`), and one reused while the file is read is skipped and
counted (the walk holds no read transaction). strace slows each write system call, so the
batches are larger than without it; the shares are what to read, not the
commit rate. Not a test: it prints figures (README, Performance).
"""
import argparse
import collections
import mmap
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

PAGE = 4096
P_BRANCH, P_LEAF, P_OVERFLOW = 0x01, 0x02, 0x04
F_BIGDATA, F_SUBDATA = 0x01, 0x02
NO_ROOT = 0xFFFFFFFFFFFFFFFF


def writer_thread(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "ledger-writer":
                return int(tid)
    sys.exit(f"no thread named ledger-writer in process {pid}")


def wchar(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def trace(tid, seconds):
    out = tempfile.NamedTemporaryFile(prefix="commit-pages-", suffix=".strace", delete=False).name
    cmd = ["timeout", "-s", "INT", str(seconds), "strace", "-qq", "-p", str(tid),
           "-e", "trace=pwrite64,lseek,writev,fdatasync", "-o", out]
    subprocess.run(cmd, stderr=subprocess.DEVNULL)
    # LMDB writes a single page with pwrite, a run of pages with lseek and
    # writev, flushes them with fdatasync, then writes the meta page (in page 0
    # or 1) through a second, O_DSYNC descriptor: that write ends a commit.
    groups, current, position, flushed = [], [], 0, None
    pwrite = re.compile(r"^pwrite64\(\d+, .*, (\d+)\)\s+=\s+(\d+)")
    lseek = re.compile(r"^lseek\(\d+, (\d+), SEEK_SET\)\s+=\s+(\d+)")
    writev = re.compile(r"^writev\(\d+, .*\)\s+=\s+(\d+)")
    with open(out) as f:
        for line in f:
            if line.startswith("fdatasync"):
                flushed, current = current, []
                continue
            if m := pwrite.match(line):
                offset, length = int(m.group(1)), int(m.group(2))
                if offset < 2 * PAGE and length < PAGE:  # the meta page
                    if flushed:
                        groups.append(flushed)
                    flushed = None
                    continue
            elif m := lseek.match(line):
                position = int(m.group(2))
                continue
            elif m := writev.match(line):
                offset, length = position, int(m.group(1))
                position += length
            else:
                continue
            # Anything flushed and not followed by a meta page (the zero pages
            # Environment.keepRunway keeps past the data) was not a commit.
            flushed = None
            first = offset // PAGE
            current.extend(range(first, first + max(1, length // PAGE)))
    os.unlink(out)
    return groups


class PageMap:
    """Tree, kind and level of every page reachable from the newer meta page."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.owner = {}
        self.trees = {}
        self.skipped = 0
        metas = [self.meta(0), self.meta(1)]
        dbs, last, _ = max(metas, key=lambda x: x[2])
        self.last = last
        main_root = dbs[1][7]
        named = self.walk("(main)", main_root, 0, collect=True) if main_root != NO_ROOT else []
        if dbs[0][7] != NO_ROOT:
            self.walk("(free list)", dbs[0][7], 0)
        for name, db in named:
            self.trees[name] = db
            if db[7] != NO_ROOT:
                self.walk(name, db[7], 0)

    def meta(self, i):
        o = i * PAGE + 16  # past the page header
        dbs = [struct.unpack_from("<IHHQQQQQ", self.m, o + 24 + 48 * j) for j in range(2)]
        last, txn = struct.unpack_from("<QQ", self.m, o + 24 + 96)
        return dbs, last, txn

    def walk(self, tree, page, level, collect=False):
        m, o = self.m, page * PAGE
        # A page that a commit made meanwhile freed and reused (this walk holds no
        # read transaction) names another page number or holds nonsense: skip it.
        if o + PAGE > len(m) or struct.unpack_from("<Q", m, o)[0] != page or level > 16:
            self.skipped += 1
            return []
        flags, = struct.unpack_from("<H", m, o + 10)
        if not flags & (P_BRANCH | P_LEAF | P_OVERFLOW):
            self.skipped += 1
            return []
        if flags & P_OVERFLOW:
            n, = struct.unpack_from("<I", m, o + 12)
            if o + n * PAGE > len(m):
                self.skipped += 1
                return []
            for k in range(n):
                self.owner[page + k] = (tree, "overflow")
            return []
        lower, _ = struct.unpack_from("<HH", m, o + 12)
        if not 16 <= lower <= PAGE:
            self.skipped += 1
            return []
        branch = bool(flags & P_BRANCH)
        self.owner[page] = (tree, "branch" if branch else "leaf")
        found = []
        for i in range((lower - 16) // 2):
            at, = struct.unpack_from("<H", m, o + 16 + 2 * i)
            if not 16 <= at <= PAGE - 8:
                self.skipped += 1
                break
            lo, hi, nflags, ksize = struct.unpack_from("<HHHH", m, o + at)
            if branch:
                found += self.walk(tree, lo | (hi << 16) | (nflags << 32), level + 1, collect)
                continue
            data = o + at + 8 + ksize
            if nflags & F_BIGDATA:
                self.walk(tree, struct.unpack_from("<Q", m, data)[0], level + 1)
            elif collect and nflags & F_SUBDATA:
                name = bytes(m[o + at + 8:data]).decode(errors="replace")
                found.append((name, struct.unpack_from("<IHHQQQQQ", m, data)))
        return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, required=True, help="the placement-ledger serve process")
    ap.add_argument("--data-dir", required=True, help="its data dir")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--last", type=int, default=20, help="commits to classify, the newest")
    args = ap.parse_args()

    tid = writer_thread(args.pid)
    commits = trace(tid, args.seconds)
    if not commits:
        sys.exit("no commits while tracing: is there write load?")
    # Map the pages once the writer is idle, so the newest commits' pages are still
    # theirs; under load that does not end, after 30 s, saying so.
    before, idle_since, started = wchar(args.pid, tid), time.time(), time.time()
    while time.time() - idle_since < 1:
        if time.time() - started > 30:
            print("the writer did not go idle within 30 s: later commits may have reused some pages", file=sys.stderr)
            break
        time.sleep(0.2)
        now = wchar(args.pid, tid)
        if now != before:
            before, idle_since = now, time.time()
    pages = PageMap(os.path.join(args.data_dir, "data.mdb"))

    if pages.skipped:
        print(f"{pages.skipped} pages changed while they were read (the writer was busy): their subtrees are not counted",
              file=sys.stderr)
    sizes = sorted(len(c) for c in commits)
    print(f"{len(commits)} commits traced; pages per commit: median {sizes[len(sizes) // 2]}, "
          f"min {sizes[0]}, max {sizes[-1]}")
    chosen = commits[-args.last:]
    totals = collections.Counter()
    for c in chosen:
        for p in c:
            totals[pages.owner.get(p, ("(free now)", "") if p <= pages.last else ("(past the data)", ""))] += 1
    n = len(chosen)
    print(f"\nthe last {n} commits, pages per commit by tree:")
    print(f"  {'tree':<22} {'kind':<12} {'pages':>7} {'share':>7}")
    whole = sum(totals.values())
    for (tree, kind), count in totals.most_common():
        print(f"  {tree:<22} {kind:<12} {count / n:7.1f} {100 * count / whole:6.1f}%")
    print(f"  {'all':<22} {'':<12} {whole / n:7.1f}")
    print("\ntrees now:")
    print(f"  {'tree':<22} {'depth':>5} {'branch':>8} {'leaf':>9} {'overflow':>9} {'entries':>10}")
    for name, db in sorted(pages.trees.items()):
        _, _, depth, branch, leaf, overflow, entries, _ = db
        if entries:
            print(f"  {name:<22} {depth:5d} {branch:8d} {leaf:9d} {overflow:9d} {entries:10d}")


if __name__ == "__main__":
    main()
