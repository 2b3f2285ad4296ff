#!/usr/bin/env python3
"""History benchmarks (not timed tests): on a generated log of N events,
measure as-of GETs at random points, history pages, replay and verify.

usage: tools/bench-history.py [--events 1000000] [--workdir DIR] [--requests 2000]

Needs the release binary (swift build -c release); PLACEMENT_LEDGER_BIN
overrides it. Prints a table of figures and writes them as JSON (--json).
"""
import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from ledger_tools import binary, serve as start_server

BIN = binary('release')


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def timed(conn, path, headers):
    t = time.perf_counter()
    conn.request('GET', path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t
    if r.status != 200:
        raise RuntimeError('%s -> %d %s' % (path, r.status, body[:300]))
    return dt, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--events', type=int, default=1_000_000)
    ap.add_argument('--providers', type=int, default=1000)
    ap.add_argument('--consumers', type=int, default=100_000)
    ap.add_argument('--requests', type=int, default=2000)
    ap.add_argument('--workdir')
    ap.add_argument('--json')
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix='ledger-bench-', dir=os.getcwd())
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, 'data')
    figures = {'events': args.events}
    if not os.path.exists(os.path.join(data, 'data.mdb')):
        t = time.perf_counter()
        subprocess.run([BIN, 'generate', '--data-dir', data, '--events', str(args.events),
                        '--providers', str(args.providers), '--consumers', str(args.consumers)], check=True)
        figures['generate_s'] = round(time.perf_counter() - t, 1)
    figures['data_mb'] = round(sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)) / 1e6, 1)

    proc, port, start_s = start_server(BIN, data)
    figures['start_s'] = round(start_s, 3)
    figures['rss_after_start_mb'] = round(rss_kb(proc.pid) / 1024, 1)
    try:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        h = {'x-auth-token': 'admin', 'openstack-api-version': 'placement 1.39'}
        _, body = timed(conn, '/', h)
        last = int(json.loads(urllib.request.urlopen(urllib.request.Request(
            'http://127.0.0.1:%d/ledger/events?limit=1' % port, headers=h)).read())['events'][0]['seq'])
        conn.request('GET', '/resource_providers/00000000-0000-4000-8000-000000000000/usages', headers=h)
        r = conn.getresponse(); r.read(); last = int(r.getheader('X-Ledger-Sequence'))
        rng = random.Random(1)
        # Points after the setup events (2 per provider), where every provider exists.
        first = 2 * args.providers + 1
        rps = ['00000000-0000-4000-8000-%012d' % i for i in range(args.providers)]
        consumers = ['c0000000-0000-4000-8000-%012d' % i for i in range(1, args.consumers)]
        results = {}
        # Now (for comparison) and as of random points.
        for name, asof in (('get_usages_now', False), ('get_usages_as_of', True)):
            lat = []
            for _ in range(args.requests):
                hh = dict(h)
                if asof:
                    hh['X-Ledger-As-Of'] = str(rng.randint(first, last))
                dt, _ = timed(conn, '/resource_providers/%s/usages' % rng.choice(rps), hh)
                lat.append(dt)
            results[name] = lat
        lat = []
        for _ in range(args.requests):
            hh = dict(h, **{'X-Ledger-As-Of': str(rng.randint(first, last))})
            dt, _ = timed(conn, '/allocations/%s' % rng.choice(consumers), hh)
            lat.append(dt)
        results['get_allocations_as_of'] = lat
        lat = []
        for _ in range(max(50, args.requests // 10)):
            dt, _ = timed(conn, '/ledger/resource_providers/%s/history?limit=100&after=%d' % (rng.choice(rps), rng.randint(0, last)), h)
            lat.append(dt)
        results['provider_history_page_100'] = lat
        lat = []
        for _ in range(max(50, args.requests // 10)):
            dt, _ = timed(conn, '/ledger/events?limit=100&after=%d' % rng.randint(0, last), h)
            lat.append(dt)
        results['events_page_100'] = lat
        for k, v in results.items():
            figures[k + '_p50_ms'] = round(pct(v, 50) * 1000, 2)
            figures[k + '_p99_ms'] = round(pct(v, 99) * 1000, 2)
        figures['rss_after_reads_mb'] = round(rss_kb(proc.pid) / 1024, 1)
    finally:
        proc.terminate()
        proc.wait()
    figures['last_sequence'] = last
    replay_dir = os.path.join(work, 'replayed')
    shutil.rmtree(replay_dir, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([BIN, 'replay', '--data-dir', data, '--to-sequence', str(last), '--into', replay_dir],
                   check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    figures['replay_s'] = round(dt, 1)
    figures['replay_events_per_s'] = int(last / dt)
    shutil.rmtree(replay_dir, ignore_errors=True)
    t = time.perf_counter()
    v = subprocess.run([BIN, 'verify', '--data-dir', data], capture_output=True, text=True)
    dt = time.perf_counter() - t
    figures['verify_s'] = round(dt, 1)
    figures['verify_events_per_s'] = int(last / dt)
    figures['verify_ok'] = v.returncode == 0
    for k, v in figures.items():
        print('%-40s %s' % (k, v))
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
