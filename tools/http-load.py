#!/usr/bin/env python3
"""HTTP load on a placement-ledger server with wrk (Debian's `wrk`).

  tools/http-load.py run   [--scenario get|usages|put|mixed] [--duration 10] ...
  tools/http-load.py soak  [--minutes 10] [--slice 30] ...
  tools/http-load.py scale [--providers 1000,10000,100000] [--consumers 10000,100000,1000000] ...

`run` starts the release binary on a fresh data dir (or takes --url and
--pid of a running one), creates --providers providers and --pool consumers
over HTTP, and runs one wrk scenario: requests/s, latency p50/p90/p99 (per
request, from wrk's histogram), non-2xx answers, and the server's CPU per
request (from /proc/PID/stat). `soak` runs the mixed scenario in slices for
--minutes and prints per slice RSS, data.mdb size, events, p99 and req/s,
then the drift: RSS after warm-up, file bytes per new event, p99 first vs
last. `scale` generates data dirs (`placement-ledger generate`) of growing
size and measures start time, RSS and GET latency on each.

Scenarios (microversion 1.12, as nova's report client and alloc-bench):
  get     GET /allocations/{pool consumer}
  usages  GET /resource_providers/{uuid}/usages
  put     PUT /allocations/{new consumer}, 1-2 providers x 2-3 classes
  mixed   70% GET, 20% PUT replacing a pool consumer's allocations,
          10% DELETE of a pool consumer followed by its re-PUT

Consumers and providers follow `generate`'s uuid patterns, so the same Lua
drives a generated data dir. Needs the release build (swift build -c
release); PLACEMENT_LEDGER_BIN overrides the binary. Not a test: it prints
figures; alloc-bench --vs compares them with Placement.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ledger_tools import binary, call, serve  # noqa: E402

PROVIDER = '00000000-0000-4000-8000-%012d'
CONSUMER = 'c0000000-0000-4000-8000-%012d'

LUA = r'''
local providers, pool, scenario = %(providers)d, %(pool)d, "%(scenario)s"
local headers = {["x-auth-token"] = "admin", ["openstack-api-version"] = "placement 1.12",
                 ["content-type"] = "application/json"}
local counter, pending_put = 0, nil
thread_id, bad = 0, 0  -- globals: setup() and done() reach them through thread:set/get
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
local function provider(n) return string.format("00000000-0000-4000-8000-%%012d", n %% providers) end
local function consumer(n) return string.format("c0000000-0000-4000-8000-%%012d", n) end
-- One connection per thread (so a DELETE is answered before its re-PUT is
-- sent) and each thread its own slice of the pool (so no two race for one).
local nthreads = %(threads)d
local function pool_consumer()
  local slots = math.max(1, math.floor(pool / nthreads))
  return consumer(1 + ((thread_id - 1) %% nthreads) + nthreads * math.random(0, slots - 1))
end
local function body(n)
  local a = string.format('"%%s": {"resources": {"VCPU": %%d, "MEMORY_MB": %%d}}', provider(math.random(0, providers - 1)),
                          1 + n %% 4, 512 * (1 + n %% 4))
  if n %% 2 == 0 then
    a = a .. string.format(', "%%s": {"resources": {"DISK_GB": %%d}}', provider(math.random(0, providers - 1)), 10 + n %% 10)
  end
  return '{"allocations": {' .. a .. '}, "project_id": "project-' .. (n %% 50) .. '", "user_id": "user-' .. (n %% 200) .. '"}'
end
function init(args)
  math.randomseed(os.time() + thread_id * 7919)
end
local function put(c)
  counter = counter + 1
  return wrk.format("PUT", "/allocations/" .. c, headers, body(counter))
end
function request()
  if pending_put then
    local c = pending_put
    pending_put = nil
    return put(c)
  end
  if scenario == "get" then
    return wrk.format("GET", "/allocations/" .. pool_consumer(), headers)
  elseif scenario == "usages" then
    return wrk.format("GET", "/resource_providers/" .. provider(math.random(0, providers - 1)) .. "/usages", headers)
  elseif scenario == "put" then
    counter = counter + 1
    return wrk.format("PUT", "/allocations/" .. string.format("d%%07d-%%04d-4000-8000-%%012d", thread_id, math.random(0, 9999), counter),
                      headers, body(counter))
  end
  local roll = math.random(1, 100)
  if roll <= 70 then
    return wrk.format("GET", "/allocations/" .. pool_consumer(), headers)
  elseif roll <= 90 then
    return put(pool_consumer())
  end
  local c = pool_consumer()
  pending_put = c
  return wrk.format("DELETE", "/allocations/" .. c, headers)
end
last_bad = 0
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1; last_bad = status end
end
function done(summary, latency, requests)
  local bad_total, statuses = 0, ""
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
    if (t:get("last_bad") or 0) > 0 then statuses = statuses .. " " .. t:get("last_bad") end
  end
  if statuses ~= "" then io.write("non-2xx statuses (last per thread):" .. statuses .. "\n") end
  io.write(string.format('WRKJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "non2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\n',
    summary.requests, summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, bad_total, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
'''


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rss_mb(pid, field='VmRSS'):
    """Resident memory: VmRSS in all, RssAnon the heap and stacks, RssFile the mapped data file's pages."""
    with open('/proc/%d/status' % pid) as fh:
        for line in fh:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return 0.0


def restore_pool(port, providers, pool):
    """Gives every pool consumer allocations again (POST at 1.13: no generations).
    A mixed slice can end between a DELETE and its re-PUT; the next slice would
    then DELETE a consumer that is gone and get Placement's 404."""
    for start in range(1, pool + 1, 200):
        batch = {}
        for n in range(start, min(pool + 1, start + 200)):
            batch[CONSUMER % n] = {'allocations': {PROVIDER % (n % providers): {'resources': {'VCPU': 1, 'MEMORY_MB': 512}}},
                                   'project_id': 'project-%d' % (n % 50), 'user_id': 'user-%d' % (n % 200)}
        status, body = call(port, 'POST', '/allocations', batch, version='1.13')
        if status != 204:
            raise RuntimeError('restoring the pool: %s %s' % (status, body))


def setup_pool(port, providers, pool):
    for i in range(providers):
        uuid = PROVIDER % i
        status, _ = call(port, 'POST', '/resource_providers', {'uuid': uuid, 'name': 'compute-%d' % i}, version='1.20')
        if status not in (200, 201, 409):
            raise RuntimeError('creating provider %s: %s' % (uuid, status))
        status, _ = call(port, 'PUT', '/resource_providers/%s/inventories' % uuid, {
            'resource_provider_generation': 0, 'inventories': {
                'VCPU': {'total': 100000, 'allocation_ratio': 16}, 'MEMORY_MB': {'total': 10 ** 9},
                'DISK_GB': {'total': 10 ** 7}}}, version='1.20')
        if status not in (200, 409):
            raise RuntimeError('inventory of %s: %s' % (uuid, status))
    for start in range(1, pool + 1, 200):
        batch = {}
        for n in range(start, min(pool + 1, start + 200)):
            batch[CONSUMER % n] = {'allocations': {PROVIDER % (n % providers): {'resources': {'VCPU': 1, 'MEMORY_MB': 512}}},
                                   'project_id': 'project-%d' % (n % 50), 'user_id': 'user-%d' % (n % 200),
                                   'consumer_generation': None}
        status, body = call(port, 'POST', '/allocations', batch, version='1.28')
        if status != 204:
            raise RuntimeError('creating the pool: %s %s' % (status, body))


def wrk(url, scenario, seconds, connections, providers, pool, workdir):
    script = os.path.join(workdir, 'load-%s.lua' % scenario)
    threads = connections
    with open(script, 'w') as fh:
        fh.write(LUA % {'providers': providers, 'pool': pool, 'scenario': scenario, 'threads': threads})
    out = subprocess.run(['wrk', '-t%d' % threads, '-c%d' % connections, '-d%ds' % seconds, '--timeout', '30s',
                          '-s', script, url], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith('non-2xx statuses'):
            print(line, flush=True)
        if line.startswith('WRKJSON '):
            r = json.loads(line[len('WRKJSON '):])
            r['rps'] = r['requests'] / (r['duration_us'] / 1e6)
            return r
    raise RuntimeError('wrk printed no summary:\n' + out.stdout + out.stderr)


class Server:
    """A release server on a data dir, or a running one given by --url/--pid."""

    def __init__(self, args, datadir=None):
        self.proc = None
        if args.url:
            self.url, self.pid, self.datadir = args.url.rstrip('/'), args.pid, args.data_dir
            self.port = int(self.url.rsplit(':', 1)[1])
            self.start_s = None
            return
        self.datadir = datadir or os.path.join(args.workdir, 'data')
        self.proc, self.port, self.start_s = serve(binary('release'), self.datadir, timeout=120)
        self.url, self.pid = 'http://127.0.0.1:%d' % self.port, self.proc.pid

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def ledger_sequence(port):
    import urllib.request
    req = urllib.request.Request('http://127.0.0.1:%d/' % port)
    with urllib.request.urlopen(req) as r:
        return int(r.headers.get('X-Ledger-Sequence', '0'))


def measured(server, args, scenario, seconds):
    c0 = cpu_seconds(server.pid) if server.pid else None
    r = wrk(server.url, scenario, seconds, args.connections, args.providers, args.pool, args.workdir)
    if c0 is not None:
        good = max(1, r['requests'] - r['non2xx'] - r['errors'])
        r['cpu_ms_per_req'] = (cpu_seconds(server.pid) - c0) * 1000 / good
    return r


def line(label, r):
    cpu = ' srv-cpu %.3f ms/req' % r['cpu_ms_per_req'] if 'cpu_ms_per_req' in r else ''
    return '%-8s %9.1f req/s  p50 %7.2f  p90 %7.2f  p99 %7.2f ms  n=%d non-2xx=%d errors=%d%s' % (
        label, r['rps'], r['p50_us'] / 1000, r['p90_us'] / 1000, r['p99_us'] / 1000, r['requests'], r['non2xx'],
        r['errors'], cpu)


def cmd_run(args):
    server = Server(args)
    try:
        if not args.url or args.setup:
            setup_pool(server.port, args.providers, args.pool)
        wrk(server.url, args.scenario, 2, args.connections, args.providers, args.pool, args.workdir)  # warm-up
        if args.scenario == 'mixed':
            # The warm-up may have ended between a DELETE and its re-PUT.
            restore_pool(server.port, args.providers, args.pool)
        r = measured(server, args, args.scenario, args.duration)
        print(line(args.scenario, r))
        return r
    finally:
        server.stop()


def cmd_soak(args):
    server = Server(args)
    rows = []
    try:
        if not args.url or args.setup:
            setup_pool(server.port, args.providers, args.pool)
        mdb = os.path.join(server.datadir, 'data.mdb') if server.datadir else None
        print('%5s %9s %9s %9s %11s %9s %9s %9s %9s %8s' % ('t/s', 'req/s', 'p50 ms', 'p99 ms', 'events', 'RSS MB',
                                                         'anon MB', 'mapped MB', 'file MB', 'non-2xx'))
        t0 = time.time()
        while time.time() - t0 < args.minutes * 60:
            r = measured(server, args, 'mixed', args.slice)
            restore_pool(server.port, args.providers, args.pool)
            r['t'] = time.time() - t0
            r['events'] = ledger_sequence(server.port)
            r['rss_mb'] = rss_mb(server.pid) if server.pid else 0
            r['anon_mb'] = rss_mb(server.pid, 'RssAnon') if server.pid else 0
            r['mapped_mb'] = rss_mb(server.pid, 'RssFile') if server.pid else 0
            r['file_mb'] = os.path.getsize(mdb) / 2 ** 20 if mdb else 0
            rows.append(r)
            print('%5.0f %9.1f %9.2f %9.2f %11d %9.1f %9.1f %9.1f %9.1f %8d' % (
                r['t'], r['rps'], r['p50_us'] / 1000, r['p99_us'] / 1000, r['events'], r['rss_mb'], r['anon_mb'],
                r['mapped_mb'], r['file_mb'], r['non2xx']), flush=True)
    finally:
        server.stop()
    if len(rows) >= 3:
        warm, last = rows[1], rows[-1]
        new_events = last['events'] - warm['events']
        print('RSS after warm-up %.1f MB, at the end %.1f MB (%+.1f MB); of which anonymous (heap, stacks) %.1f -> %.1f MB'
              ' (%+.1f MB) and mapped data file pages %.1f -> %.1f MB' % (
                  warm['rss_mb'], last['rss_mb'], last['rss_mb'] - warm['rss_mb'], warm['anon_mb'], last['anon_mb'],
                  last['anon_mb'] - warm['anon_mb'], warm['mapped_mb'], last['mapped_mb']))
        print('data.mdb %.1f MB -> %.1f MB for %d new events (%.0f bytes per event)' % (
            warm['file_mb'], last['file_mb'], new_events, (last['file_mb'] - warm['file_mb']) * 2 ** 20 / max(1, new_events)))
        p99s = [r['p99_us'] / 1000 for r in rows[1:]]
        print('p99 after warm-up: first %.2f ms, last %.2f ms, min %.2f, max %.2f' % (p99s[0], p99s[-1], min(p99s), max(p99s)))
        print('non-2xx answers in all: %d' % sum(r['non2xx'] for r in rows))
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(rows, fh, indent=1)


def cmd_scale(args):
    results = []
    bin_path = binary('release')
    shapes = [(int(p), int(args.consumers.split(',')[0])) for p in args.providers_list.split(',')]
    shapes += [(int(args.providers_list.split(',')[0]), int(c)) for c in args.consumers.split(',')[1:]]
    for providers, consumers in shapes:
        datadir = os.path.join(args.workdir, 'scale-%d-%d' % (providers, consumers))
        # Enough events to create every consumer (60% of churn creates one) and every provider.
        events = 2 * providers + int(consumers * 1.8)
        if not os.path.exists(os.path.join(datadir, 'data.mdb')):
            t = time.time()
            subprocess.run([bin_path, 'generate', '--data-dir', datadir, '--events', str(events), '--providers',
                            str(providers), '--consumers', str(consumers)], check=True, stdout=subprocess.DEVNULL)
            print('generated %d events (%d providers, up to %d consumers) in %.0f s' % (events, providers, consumers,
                                                                                      time.time() - t), flush=True)
        proc, port, start_s = serve(bin_path, datadir, timeout=120)
        try:
            rss_start = rss_mb(proc.pid)
            server = argparse.Namespace(url='http://127.0.0.1:%d' % port, pid=proc.pid)
            live = min(consumers, int(events * 0.5))
            sub = argparse.Namespace(**vars(args))
            sub.providers, sub.pool = providers, live
            wrk(server.url, 'get', 2, args.connections, providers, live, args.workdir)
            get = measured(server, sub, 'get', args.duration)
            usages = measured(server, sub, 'usages', args.duration)
            row = {'providers': providers, 'consumers': consumers, 'events': events, 'start_s': start_s,
                   'rss_start_mb': rss_start, 'file_mb': os.path.getsize(os.path.join(datadir, 'data.mdb')) / 2 ** 20,
                   'get': get, 'usages': usages}
            results.append(row)
            print('%7d providers %8d consumers %8d events: start %.2f s, RSS %.0f MB, file %.0f MB' % (
                providers, consumers, events, start_s, rss_start, row['file_mb']))
            print('    ' + line('get', get))
            print('    ' + line('usages', usages), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(results, fh, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('command', choices=['run', 'soak', 'scale'])
    ap.add_argument('--scenario', default='get', choices=['get', 'usages', 'put', 'mixed'])
    ap.add_argument('--duration', type=int, default=10, help='seconds per measured run')
    ap.add_argument('--connections', type=int, default=16)
    ap.add_argument('--providers', type=int, default=200)
    ap.add_argument('--pool', type=int, default=2000, help='consumers created before the load')
    ap.add_argument('--url', help='a running server (with --pid for its CPU and RSS, --data-dir for its file)')
    ap.add_argument('--pid', type=int)
    ap.add_argument('--data-dir')
    ap.add_argument('--setup', action='store_true', help='with --url: create the providers and pool first')
    ap.add_argument('--minutes', type=float, default=10, help='soak: how long')
    ap.add_argument('--slice', type=int, default=30, help='soak: seconds per measured slice')
    ap.add_argument('--providers-list', default='1000,10000,100000', help='scale: provider counts')
    ap.add_argument('--consumers', default='10000,100000,1000000', help='scale: consumer counts')
    ap.add_argument('--workdir', help='data dirs go here (default: a temp dir under /var/tmp, removed unless given)')
    ap.add_argument('--json', help='write the figures here')
    args = ap.parse_args()
    if shutil.which('wrk') is None:
        sys.exit('wrk is missing: apt-get install wrk')
    keep = args.workdir is not None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix='http-load-', dir='/var/tmp')
    os.makedirs(args.workdir, exist_ok=True)
    try:
        {'run': cmd_run, 'soak': cmd_soak, 'scale': cmd_scale}[args.command](args)
    finally:
        if not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
