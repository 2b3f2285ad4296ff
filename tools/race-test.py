#!/usr/bin/env python3
"""Race test: many clients fight over scarce capacity on a few providers.

Clients create, grow, shrink and delete consumers' allocations (PUT with
consumer generations, POST /allocations of two consumers, DELETE) on three
small providers, all at once. Then:
  - every answer was a 2xx or a Placement 409 (capacity or generation), never
    anything else;
  - folding the log's events in order, no provider's usage ever exceeds its
    capacity, at any sequence;
  - what the clients were told was accepted adds up to the final usages, and
    every consumer reads back as last acknowledged;
  - `placement-ledger verify` passes.
Exits 1 on any failure.

usage: tools/race-test.py [--clients 24] [--seconds 20] [--seed N]
"""
import argparse
import collections
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from ledger_tools import binary, call, check_verify, report, serve

BIN = binary()
CAPACITY = {'VCPU': 16, 'MEMORY_MB': 4096}



class Book:
    """What the clients were told: each consumer's last acknowledged allocations and generation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.consumers = {}   # uuid -> {provider: {rc: n}}
        self.generations = {}
        self.statuses = collections.Counter()
        self.problems = []


def conflict_ok(body):
    """A 409 must be Placement's: capacity or a concurrent update, with its code."""
    try:
        err = body['errors'][0]
    except (TypeError, KeyError, IndexError):
        return False
    return err.get('code') in ('placement.concurrent_update', 'placement.undefined_code') and (
        'exceed the capacity' in err['detail'] or 'consumer generation conflict' in err['detail']
        or 'generation' in err['detail'])


def client(port, providers, book, seed, stop):
    rng = random.Random(seed)
    mine = []
    while not stop.is_set():
        roll = rng.random()
        if mine and roll < 0.2:
            c = rng.choice(mine)
            status, body = call(port, 'DELETE', '/allocations/' + c)
            with book.lock:
                book.statuses[('DELETE', status)] += 1
                if status == 204:
                    book.consumers[c] = {}
                    mine.remove(c)
                elif status != 404:
                    book.problems.append('DELETE %s -> %s %s' % (c, status, body))
            continue
        def allocation():
            rps = rng.sample(providers, rng.choice([1, 1, 2]))
            return {rp: {'resources': {'VCPU': rng.randint(1, 4), 'MEMORY_MB': rng.choice([256, 512, 1024])}} for rp in rps}
        if roll < 0.3:
            # Two new consumers at once: all or nothing.
            pair = [str(uuid.uuid4()), str(uuid.uuid4())]
            body = {c: {'allocations': allocation(), 'project_id': 'p', 'user_id': 'u', 'consumer_generation': None}
                    for c in pair}
            status, resp = call(port, 'POST', '/allocations', body)
            with book.lock:
                book.statuses[('POST', status)] += 1
                if status == 204:
                    for c in pair:
                        book.consumers[c] = {rp: v['resources'] for rp, v in body[c]['allocations'].items()}
                        book.generations[c] = 1
                    mine += pair
                elif status != 409 or not conflict_ok(resp):
                    book.problems.append('POST -> %s %s' % (status, resp))
            continue
        if mine and roll < 0.6:
            c = rng.choice(mine)
            gen = book.generations.get(c)
        else:
            c, gen = str(uuid.uuid4()), None
        alloc = allocation()
        body = {'allocations': alloc, 'project_id': 'p', 'user_id': 'u', 'consumer_generation': gen}
        status, resp = call(port, 'PUT', '/allocations/' + c, body)
        with book.lock:
            book.statuses[('PUT', status)] += 1
            if status == 204:
                book.consumers[c] = {rp: v['resources'] for rp, v in alloc.items()}
                book.generations[c] = (gen or 0) + 1
                if c not in mine:
                    mine.append(c)
            elif status != 409 or not conflict_ok(resp):
                book.problems.append('PUT %s -> %s %s' % (c, status, resp))


def fold_log(datadir, providers):
    """Usage per provider after every event, from the log alone; returns the first overflow found."""
    out = subprocess.run([BIN, 'events', '--data-dir', datadir, '--format', 'jsonl'],
                         capture_output=True, text=True, check=True).stdout
    consumers = {}
    usage = {rp: collections.Counter() for rp in providers}
    events = 0
    for line in out.splitlines():
        ev = json.loads(line)
        events += 1
        p = ev['payload']
        if ev['type'] == 'AllocationsReplaced':
            changed = {c['consumer_uuid']: c['allocations'] for c in p['consumers']}
        elif ev['type'] == 'AllocationsDeleted':
            changed = {p['consumer_uuid']: {}}
        else:
            continue
        for c, allocs in changed.items():
            for rp, res in consumers.get(c, {}).items():
                usage[rp].subtract(res)
            consumers[c] = allocs
            for rp, res in allocs.items():
                usage[rp].update(res)
        for rp, u in usage.items():
            for rc, cap in CAPACITY.items():
                if u[rc] > cap:
                    return events, 'after event %d %s uses %d %s of %d' % (ev['seq'], rp, u[rc], rc, cap), usage
    return events, None, usage


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--clients', type=int, default=24)
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--seed', type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    root = tempfile.mkdtemp(prefix='ledger-race-')
    datadir = root + '/data'
    proc, port, _ = serve(BIN, datadir)
    failures = []
    try:
        providers = []
        for i in range(3):
            rp = str(uuid.uuid4())
            call(port, 'POST', '/resource_providers', {'name': 'rp%d' % i, 'uuid': rp}, version='1.14')
            call(port, 'PUT', '/resource_providers/%s/inventories' % rp, {
                'resource_provider_generation': 0,
                'inventories': {rc: {'total': n} for rc, n in CAPACITY.items()}})
            providers.append(rp)
        book = Book()
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(port, providers, book, seed + i, stop)) for i in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        failures += book.problems[:20]
        accepted = sum(n for (m, s), n in book.statuses.items() if s in (200, 204))
        refused = sum(n for (m, s), n in book.statuses.items() if s == 409)
        # What the clients were told adds up to what the server shows.
        expected = {rp: collections.Counter() for rp in providers}
        for c, allocs in book.consumers.items():
            for rp, res in allocs.items():
                expected[rp].update(res)
        for rp in providers:
            status, body = call(port, 'GET', '/resource_providers/%s/usages' % rp)
            shown = {rc: n for rc, n in body['usages'].items() if n}
            want = {rc: n for rc, n in expected[rp].items() if n}
            if shown != want:
                failures.append('provider %s shows usages %s, acknowledged writes add up to %s' % (rp, shown, want))
        for c, allocs in list(book.consumers.items())[:300]:
            status, body = call(port, 'GET', '/allocations/' + c, version='1.12')
            shown = {rp: v['resources'] for rp, v in body['allocations'].items()}
            if shown != allocs:
                failures.append('consumer %s shows %s, last acknowledged %s' % (c, shown, allocs))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    events, overflow, usage = fold_log(datadir, providers)
    if overflow:
        failures.append('capacity exceeded in the log: ' + overflow)
    check_verify(BIN, datadir, failures)
    print('race test (seed %d): %d clients, %d accepted, %d refused with 409, %d events; statuses %s' % (
        seed, args.clients, accepted, refused, events, dict(sorted(book.statuses.items()))))
    return report(failures, root, 'no provider over capacity at any sequence, acknowledged writes equal the final views, verify passes')

if __name__ == '__main__':
    sys.exit(main())
