"""Helpers shared by the test and benchmark scripts in tools/: free ports,
starting a placement-ledger server and waiting for it."""
import os
import socket
import subprocess
import time
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


def serve(bin_path, datadir, timeout=30):
    """Starts `serve` on a free port; returns (process, port, seconds until GET / answered)."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([bin_path, 'serve', '--port', str(port), '--data-dir', datadir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
