"""Helpers shared by the test and benchmark scripts in tools/: free ports,
starting a placement-ledger server and waiting for it."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary(kind='debug'):
    """The placement-ledger binary: PLACEMENT_LEDGER_BIN, else this checkout's build."""
    return os.environ.get('PLACEMENT_LEDGER_BIN', os.path.join(ROOT, '.build', kind, 'placement-ledger'))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve(bin_path, datadir, timeout=30, extra=(), log=None):
    """Starts `serve` on a free port; returns (process, port, seconds until GET / answered).
    With `log` (a path), the server's output goes there instead of nowhere."""
    port = free_port()
    t0 = time.perf_counter()
    out = open(log, 'ab') if log else subprocess.DEVNULL
    proc = subprocess.Popen([bin_path, 'serve', '--port', str(port), '--data-dir', datadir] + list(extra),
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    if log:
        out.close()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=1).read()
            return proc, port, time.perf_counter() - t0
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError('server exited with status %s' % proc.returncode)
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError('server did not answer GET / within %ss' % timeout)


def call(port, method, path, body=None, version='1.28', timeout=30):
    """One request as admin; returns (status, parsed JSON body or text, or None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), data=data, method=method)
    req.add_header('x-auth-token', 'admin')
    req.add_header('openstack-api-version', 'placement %s' % version)
    if data is not None:
        req.add_header('content-type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode('utf-8', 'replace')


def check_verify(bin_path, datadir, failures):
    """Runs `placement-ledger verify`; a failure is added to `failures`. Returns its last line."""
    verify = subprocess.run([bin_path, 'verify', '--data-dir', datadir], capture_output=True, text=True)
    if verify.returncode != 0:
        failures.append('verify failed: ' + verify.stdout[-1500:])
    return (verify.stdout.strip().splitlines() or [''])[-1]


def report(failures, root, passed):
    """Prints the failures (keeping `root` for a look) or the passing line; returns the exit status."""
    for f in failures:
        print('FAIL ' + f)
    if failures:
        print('data kept in ' + root)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print('passed: ' + passed)
    return 0
