#!/usr/bin/env python3
"""Live feed test: GET /ledger/events?follow=true delivers every event exactly
once and in order, across clients that disconnect and reconnect with
`after=` (or `Last-Event-ID`), while writes go on concurrently.

usage: tools/feed-test.py [--writes 300] [--readers 3]
Prints one line per reader and a closing "N passed, N failed" line.
"""
import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

from ledger_tools import binary, serve

BIN = binary()
H = {'x-auth-token': 'admin', 'openstack-api-version': 'placement 1.39', 'content-type': 'application/json'}


def call(port, method, path, body=None):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    c.request(method, path, body=None if body is None else json.dumps(body), headers=H)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def read_some(port, after, how_many, use_header, last_expected):
    """Open the feed after `after`, read up to how_many events, then drop the connection."""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    headers = dict(H, accept='text/event-stream')
    path = '/ledger/events?follow=true'
    if use_header:
        headers['Last-Event-ID'] = str(after)
    else:
        path += '&after=%d' % after
    c.request('GET', path, headers=headers)
    r = c.getresponse()
    assert r.status == 200, r.status
    got = []
    event_id = None
    while len(got) < how_many:
        line = r.fp.readline()
        if not line:
            break
        line = line.decode().rstrip('\n')
        if line.startswith('id: '):
            event_id = int(line[4:])
        elif line.startswith('data: '):
            data = json.loads(line[6:])
            assert data['seq'] == event_id, (data['seq'], event_id)
            got.append(data['seq'])
            if data['seq'] >= last_expected:
                break
    c.close()  # the client goes away mid-stream
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--writes', type=int, default=300)
    ap.add_argument('--readers', type=int, default=3)
    ap.add_argument('--seed', type=int, default=int(time.time()))
    args = ap.parse_args()
    datadir = tempfile.mkdtemp(prefix='ledger-feed-') + '/data'
    proc, port, _ = serve(BIN, datadir)
    try:
        rp = str(uuid.uuid4())
        call(port, 'POST', '/resource_providers', {'name': 'feed', 'uuid': rp})
        call(port, 'PUT', '/resource_providers/%s/inventories' % rp,
             {'resource_provider_generation': 0, 'inventories': {'VCPU': {'total': 1000000}}})

        done = threading.Event()

        def writer():
            for i in range(args.writes):
                c = str(uuid.uuid4())
                call(port, 'PUT', '/allocations/' + c,
                     {'allocations': {rp: {'resources': {'VCPU': 1}}}, 'project_id': 'p', 'user_id': 'u',
                      'consumer_generation': None, 'consumer_type': 'INSTANCE'})
                if i % 50 == 0:
                    time.sleep(0.05)
            done.set()

        results = {}

        def reader(n):
            try:
                read_all(n)
            except Exception as e:  # reported as a failure below
                results[n] = ([], 0, '%s: %s' % (type(e).__name__, e))

        def read_all(n):
            rng = random.Random(args.seed + n)
            seen = []
            reconnects = 0
            expected_total = args.writes + 2
            while len(seen) < expected_total:
                after = seen[-1] if seen else 0
                seen += read_some(port, after, rng.randint(1, 60), rng.random() < 0.5, expected_total)
                reconnects += 1
                if reconnects > 5000:
                    break
            results[n] = (seen, reconnects, None)

        t = threading.Thread(target=writer)
        t.start()
        readers = [threading.Thread(target=reader, args=(n,)) for n in range(args.readers)]
        for r in readers:
            r.start()
        t.join()
        for r in readers:
            r.join(timeout=120)
        expected = list(range(1, args.writes + 3))
        passed = failed = 0
        for n in range(args.readers):
            seen, reconnects, error = results.get(n, ([], 0, 'no result'))
            if seen == expected:
                passed += 1
                print('reader %d: %d events exactly once and in order over %d connections' % (n, len(seen), reconnects))
            else:
                failed += 1
                dups = len(seen) - len(set(seen))
                missing = sorted(set(expected) - set(seen))[:10]
                print('reader %d: FAILED: %d events, %d duplicates, missing %s %s' % (n, len(seen), dups, missing, error or ''))
        # A follower still connected must not hold up a graceful stop.
        follower = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        follower.request('GET', '/ledger/events?follow=true&after=%d' % (args.writes + 2), headers=H)
        assert follower.getresponse().status == 200
        t = time.time()
        proc.terminate()
        try:
            code = proc.wait(timeout=10)
            if code == 0:
                passed += 1
                print('SIGTERM with a follower connected: exit 0 after %.2f s' % (time.time() - t))
            else:
                failed += 1
                print('SIGTERM with a follower connected: FAILED, exit status %d' % code)
        except subprocess.TimeoutExpired:
            failed += 1
            print('SIGTERM with a follower connected: FAILED, still running after 10 s')
        print('%d passed, %d failed' % (passed, failed))
        return 1 if failed else 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == '__main__':
    sys.exit(main())
