#!/usr/bin/env python3
"""Crash test: SIGKILL a placement-ledger server while it is writing under load.

Round after round, the same data dir is served, several client threads write
(new providers, inventories, allocations of new consumers), and the server is
killed with SIGKILL at a random moment. After every kill:
  - `placement-ledger verify` must pass (log and views consistent);
  - every write that had been acknowledged (2xx) must be in the log (its
    request id is in an event) and visible after a restart (GET shows it).
Prints one line per round and a closing "N passed, N failed" line; exits 1 on
any failure.

usage: tools/crash-test.py [--rounds 20] [--seed N]
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

from ledger_tools import binary, serve

BIN = binary()


def call(port, method, path, body=None, version='1.39', timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), data=data, method=method)
    req.add_header('x-auth-token', 'admin')
    req.add_header('openstack-api-version', 'placement %s' % version)
    if data is not None:
        req.add_header('content-type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read()
            return resp.status, resp.headers.get('x-openstack-request-id'), (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('x-openstack-request-id'), None


def start(datadir):
    proc, port, _ = serve(BIN, datadir)
    return proc, port


class Acked:
    def __init__(self):
        self.lock = threading.Lock()
        self.request_ids = set()
        self.providers = set()
        self.consumers = {}  # consumer -> (provider, amount)


def writer(port, providers, acked, stop, rng_seed):
    rng = random.Random(rng_seed)
    while not stop.is_set():
        try:
            if rng.random() < 0.15:
                rp = str(uuid.uuid4())
                status, rid, _ = call(port, 'POST', '/resource_providers', {'name': 'crash-' + rp, 'uuid': rp})
                if status == 200:
                    with acked.lock:
                        acked.request_ids.add(rid)
                        acked.providers.add(rp)
            else:
                consumer = str(uuid.uuid4())
                rp = rng.choice(providers)
                amount = rng.randint(1, 4)
                body = {'allocations': {rp: {'resources': {'VCPU': amount}}}, 'project_id': 'p', 'user_id': 'u',
                        'consumer_generation': None, 'consumer_type': 'INSTANCE'}
                status, rid, _ = call(port, 'PUT', '/allocations/' + consumer, body)
                if status == 204:
                    with acked.lock:
                        acked.request_ids.add(rid)
                        acked.consumers[consumer] = (rp, amount)
        except Exception:
            time.sleep(0.01)  # the server is gone: keep trying until told to stop


def logged_request_ids(datadir):
    out = subprocess.run([BIN, 'events', '--data-dir', datadir, '--format', 'jsonl'],
                         capture_output=True, text=True, check=True).stdout
    return {json.loads(line)['request_id'] for line in out.splitlines() if line.strip()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--threads', type=int, default=6)
    parser.add_argument('--seed', type=int, default=int(time.time()))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    datadir = tempfile.mkdtemp(prefix='ledger-crash-') + '/data'
    print('crash test: seed %d, data dir %s' % (args.seed, datadir), flush=True)

    proc, port = start(datadir)
    providers = [str(uuid.uuid4()) for _ in range(4)]
    for rp in providers:
        call(port, 'POST', '/resource_providers', {'name': rp, 'uuid': rp})
        call(port, 'PUT', '/resource_providers/%s/inventories' % rp,
             {'resource_provider_generation': 0, 'inventories': {'VCPU': {'total': 10_000_000, 'max_unit': 100}}})
    proc.terminate()
    proc.wait()

    acked = Acked()
    passed = failed = 0
    for n in range(1, args.rounds + 1):
        proc, port = start(datadir)
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(port, providers, acked, stop, rng.random()))
                   for _ in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        problems = []
        verify = subprocess.run([BIN, 'verify', '--data-dir', datadir], capture_output=True, text=True)
        if verify.returncode != 0:
            problems.append('verify failed: ' + verify.stdout[-1500:])
        with acked.lock:
            missing = acked.request_ids - logged_request_ids(datadir)
            consumers = dict(acked.consumers)
            total = len(acked.request_ids)
        if missing:
            problems.append('%d acknowledged writes are not in the log, e.g. %s' % (len(missing), sorted(missing)[:3]))
        # Acknowledged state is visible after a restart.
        proc, port = start(datadir)
        try:
            sample = rng.sample(sorted(consumers), min(25, len(consumers)))
            for c in sample:
                rp, amount = consumers[c]
                status, _, body = call(port, 'GET', '/allocations/' + c)
                if status != 200 or body['allocations'].get(rp, {}).get('resources', {}).get('VCPU') != amount:
                    problems.append('consumer %s: expected VCPU %d on %s, got %s' % (c, amount, rp, body))
                    break
        finally:
            proc.terminate()
            if proc.wait() != 0:
                problems.append('server exited %s after SIGTERM' % proc.returncode)
        if problems:
            failed += 1
            print('round %2d: FAILED (%d acknowledged so far)' % (n, total), flush=True)
            for p in problems:
                print('    ' + p, flush=True)
        else:
            passed += 1
            print('round %2d: ok, %d acknowledged writes so far, all in the log; verify passes' % (n, total), flush=True)
    print('%d passed, %d failed' % (passed, failed))
    if not failed:
        subprocess.run(['rm', '-rf', os.path.dirname(datadir)])
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
