#!/usr/bin/env python3
"""Disk-full test: the data dir's file system fills up while clients write.

The server runs on a small tmpfs (or, where mounting is not allowed, with a
file size limit set on the running process with prlimit, which fails the
same writes with EFBIG instead of ENOSPC). Writes go on until they are
refused; then:
  - every refused write got 507 (or 503) with Placement's error body, and no
    answer was a 500 or a dropped connection;
  - reads keep answering 200;
  - once space returns (filler file removed, or the limit lifted), writes
    succeed again without a restart;
  - every acknowledged write is in the views, and `placement-ledger verify`
    passes.
Exits 1 on any failure.

usage: tools/disk-full-test.py [--mode auto|tmpfs|prlimit]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from ledger_tools import binary, call, check_verify, report, serve

BIN = binary()



def mount_tmpfs(path, size_mb):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%dm' % size_mb, 'tmpfs', path], capture_output=True)
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mode', choices=['auto', 'tmpfs', 'prlimit'], default='auto')
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix='ledger-diskfull-')
    mnt = root + '/fs'
    mode = args.mode
    if mode in ('auto', 'tmpfs'):
        if mount_tmpfs(mnt, 48):
            mode = 'tmpfs'
        elif mode == 'tmpfs':
            print('FAIL cannot mount a tmpfs here')
            return 1
        else:
            mode = 'prlimit'
            os.makedirs(mnt)
    datadir = mnt + '/data'
    failures = []
    proc = None
    try:
        proc, port, _ = serve(BIN, datadir)
        rp = str(uuid.uuid4())
        call(port, 'POST', '/resource_providers', {'name': 'big', 'uuid': rp}, version='1.14')
        status, _ = call(port, 'PUT', '/resource_providers/%s/inventories' % rp, {
            'resource_provider_generation': 0, 'inventories': {'VCPU': {'total': 10 ** 9}, 'MEMORY_MB': {'total': 10 ** 9}}})
        assert status == 200, status
        filler = mnt + '/filler'
        if mode == 'tmpfs':
            # Leave a few MB, then let the writes use them up.
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            with open(filler, 'wb') as fh:
                fh.truncate(0)
            subprocess.run(['fallocate', '-l', str(max(0, free - 3 * 1024 * 1024)), filler], check=True)
        else:
            size = os.path.getsize(datadir + '/data.mdb')
            subprocess.run(['prlimit', '--pid', str(proc.pid), '--fsize=%d:unlimited' % (size + 3 * 1024 * 1024)], check=True)
        acked = {}
        refused = 0
        body_ok = True
        for i in range(20000):
            c = str(uuid.uuid4())
            alloc = {rp: {'resources': {'VCPU': 1, 'MEMORY_MB': 1 + i % 7}}}
            status, body = call(port, 'PUT', '/allocations/' + c, {
                'allocations': alloc, 'project_id': 'p' + str(i % 50), 'user_id': 'u', 'consumer_generation': None})
            if status == 204:
                acked[c] = alloc
                continue
            if status in (507, 503):
                refused += 1
                try:
                    detail = body['errors'][0]['detail']
                    body_ok = body_ok and ('disk is full' in detail or 'could not store' in detail)
                except (TypeError, KeyError, IndexError):
                    body_ok = False
                if refused >= 20:
                    break
                continue
            failures.append('write %d answered %s %s' % (i, status, body))
            break
        if refused == 0:
            failures.append('the file system never filled (%d writes accepted)' % len(acked))
        if not body_ok:
            failures.append('a refused write did not carry Placement\'s error body with a clear message')
        # Reads keep working while full.
        for path in ('/resource_providers/%s/usages' % rp, '/resource_providers', '/allocations/' + next(iter(acked))):
            status, _ = call(port, 'GET', path)
            if status != 200:
                failures.append('GET %s answered %s while the disk was full' % (path, status))
        # Space returns: writes work again, same process.
        if mode == 'tmpfs':
            os.unlink(filler)
        else:
            subprocess.run(['prlimit', '--pid', str(proc.pid), '--fsize=unlimited'], check=True)
        after = 0
        for i in range(50):
            c = str(uuid.uuid4())
            alloc = {rp: {'resources': {'VCPU': 1, 'MEMORY_MB': 1}}}
            status, body = call(port, 'PUT', '/allocations/' + c, {
                'allocations': alloc, 'project_id': 'p', 'user_id': 'u', 'consumer_generation': None})
            if status == 204:
                acked[c] = alloc
                after += 1
        if after != 50:
            failures.append('after space returned only %d of 50 writes succeeded (last: %s %s)' % (after, status, body))
        # Everything acknowledged is there.
        status, body = call(port, 'GET', '/resource_providers/%s/usages' % rp)
        want_vcpu = sum(a[rp]['resources']['VCPU'] for a in acked.values())
        if body['usages'].get('VCPU') != want_vcpu:
            failures.append('usages show %s VCPU, acknowledged writes add up to %d' % (body['usages'].get('VCPU'), want_vcpu))
        missing = [c for c in list(acked)[::25] if call(port, 'GET', '/allocations/' + c, version='1.12')[1]['allocations'] == {}]
        if missing:
            failures.append('%d acknowledged consumers are missing, e.g. %s' % (len(missing), missing[0]))
        proc.terminate()
        if proc.wait(timeout=30) != 0:
            failures.append('server exited with %s after SIGTERM' % proc.returncode)
        proc = None
        check_verify(BIN, datadir, failures)
        print('disk-full test (%s): %d writes acknowledged, %d refused while full, %d after space returned' % (
            mode, len(acked) - after, refused, after))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        if mode == 'tmpfs':
            if failures:
                shutil.copytree(datadir, root + '/data-copy', dirs_exist_ok=True)
            subprocess.run(['umount', mnt])
    return report(failures, root, 'refused writes got 507, reads kept working, writes resumed without restart, nothing acknowledged lost')

if __name__ == '__main__':
    sys.exit(main())
