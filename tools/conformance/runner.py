"""Run Placement 16.0.0's gabbi files against placement-ledger.

For each file: start `tools/serve-at PORT DATADIR` in a fresh temporary data
dir, wait for GET /, build the data the file's fixtures would have written
(through the HTTP API, since the server's storage is not Placement's
database), run the file's tests with gabbi, stop the server with SIGTERM and
check that it exits 0 and that `placement-ledger verify` passes on what it
left. Prints one line per file and a closing "N passed, N failed" line.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

import placement
from gabbi import handlers as gabbi_handlers
from gabbi import suitemaker
from gabbi import utils as gabbi_utils

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GABBITS = os.path.join(os.path.dirname(placement.__file__), 'tests', 'functional', 'gabbits')
BIN = os.environ.get('PLACEMENT_LEDGER_BIN', os.path.join(ROOT, '.build', 'debug', 'placement-ledger'))


def new_uuid():
    return str(uuid.uuid4())


class Client:
    """Just enough HTTP to build fixture data."""

    def __init__(self, port):
        self.base = 'http://127.0.0.1:%d' % port

    def call(self, method, path, body=None, version='1.28'):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header('x-auth-token', 'admin')
        req.add_header('openstack-api-version', 'placement %s' % version)
        if data is not None:
            req.add_header('content-type', 'application/json')
        with urllib.request.urlopen(req) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def provider(self, name, uuid_, parent=None):
        body = {'name': name, 'uuid': uuid_}
        if parent:
            body['parent_provider_uuid'] = parent
        self.call('POST', '/resource_providers', body, version='1.14')

    def aggregates(self, rp, *aggs):
        # Microversion 1.1: the form that does not bump the generation, as Placement's fixtures set them.
        self.call('PUT', '/resource_providers/%s/aggregates' % rp, list(aggs), version='1.1')

    def traits(self, rp, *traits):
        for t in traits:
            if t.startswith('CUSTOM_'):
                self.call('PUT', '/traits/' + t, version='1.6')
        gen = self.call('GET', '/resource_providers/' + rp)['generation']
        self.call('PUT', '/resource_providers/%s/traits' % rp, {'traits': list(traits), 'resource_provider_generation': gen})

    def inventory(self, rp, rc, total, **kw):
        # As Placement's test helpers do: max_unit defaults to total, custom classes made first.
        if rc.startswith('CUSTOM_'):
            self.call('PUT', '/resource_classes/' + rc, version='1.7')
        kw.setdefault('max_unit', total)
        body = dict(resource_class=rc, total=total, **kw)
        self.call('POST', '/resource_providers/%s/inventories' % rp, body)

    def allocate(self, consumer, rp, resources, project, user):
        body = {'allocations': {rp: {'resources': resources}}, 'project_id': project,
                'user_id': user, 'consumer_generation': None}
        self.call('PUT', '/allocations/' + consumer, body, version='1.28')


def api_fixture(client, env):
    for key in ('RP_UUID', 'RP_NAME', 'RP_UUID1', 'RP_NAME1', 'RP_UUID2', 'RP_NAME2', 'PROJECT_ID',
                'ADMIN_PROJECT_ID', 'SERVICE_PROJECT_ID', 'USER_ID', 'PROJECT_ID_ALT', 'USER_ID_ALT',
                'INSTANCE_UUID', 'MIGRATION_UUID', 'CONSUMER_UUID', 'PARENT_PROVIDER_UUID',
                'ALT_PARENT_PROVIDER_UUID'):
        env[key] = new_uuid()
    env['CUSTOM_RES_CLASS'] = 'CUSTOM_IRON_NFV'
    env['CUSTOM_RES_CLASS1'] = 'CUSTOM_IRON_NFV1'
    env['CUSTOM_RES_CLASS2'] = 'CUSTOM_IRON_NFV2'


def allocation_fixture(client, env):
    """One provider with VCPU 10 and DISK_GB 2048, three consumers of two users."""
    api_fixture(client, env)
    env['ALT_USER_ID'] = new_uuid()
    rp = env['RP_UUID']
    client.provider(env['RP_NAME'], rp)
    client.inventory(rp, 'DISK_GB', 2048, step_size=10, min_unit=10, max_unit=1000)
    client.inventory(rp, 'VCPU', 10, max_unit=10)
    env['CONSUMER_0'] = new_uuid()
    client.allocate(env['CONSUMER_0'], rp, {'DISK_GB': 1000}, env['PROJECT_ID'], env['USER_ID'])
    env['CONSUMER_ID'] = new_uuid()
    client.allocate(env['CONSUMER_ID'], rp, {'VCPU': 6}, env['PROJECT_ID'], env['USER_ID'])
    env['ALT_CONSUMER_ID'] = new_uuid()
    client.allocate(env['ALT_CONSUMER_ID'], rp, {'DISK_GB': 20, 'VCPU': 1}, env['PROJECT_ID'], env['ALT_USER_ID'])
    env['ALT_RP_UUID'] = new_uuid()
    env['ALT_RP_NAME'] = new_uuid()


def granular_fixture(client, env):
    """Three compute nodes and three sharing providers in aggregates A, B, C."""
    api_fixture(client, env)
    client.call('POST', '/resource_classes', {'name': 'CUSTOM_NET_MBPS'}, version='1.2')
    for agg in ('AGGA', 'AGGB', 'AGGC'):
        env[agg] = new_uuid()

    def provider(name, key, aggs, inventories, traits):
        rp = new_uuid()
        env[key] = rp
        client.provider(name, rp)
        client.aggregates(rp, *[env[a] for a in aggs])
        for rc, total, kw in inventories:
            client.inventory(rp, rc, total, **kw)
        client.traits(rp, *traits)

    provider('cn_left', 'CN_LEFT', ['AGGA'],
             [('VCPU', 8, {}), ('MEMORY_MB', 4096, {}), ('DISK_GB', 500, {}), ('VGPU', 8, {}),
              ('SRIOV_NET_VF', 8, {}), ('CUSTOM_NET_MBPS', 4000, {})],
             ['HW_CPU_X86_AVX', 'HW_CPU_X86_AVX2', 'HW_GPU_API_DXVA', 'HW_NIC_DCB_PFC', 'CUSTOM_FOO'])
    provider('cn_middle', 'CN_MIDDLE', ['AGGA', 'AGGB'],
             [('VCPU', 8, {}), ('MEMORY_MB', 4096, {}), ('SRIOV_NET_VF', 8, {}), ('CUSTOM_NET_MBPS', 4000, {})],
             ['HW_CPU_X86_AVX', 'HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE', 'HW_NIC_ACCEL_TLS'])
    provider('cn_right', 'CN_RIGHT', ['AGGB', 'AGGC'],
             [('VCPU', 8, {}), ('MEMORY_MB', 4096, {}), ('DISK_GB', 500, {}), ('VGPU', 8, {'max_unit': 2})],
             ['HW_CPU_X86_MMX', 'HW_GPU_API_DXVA', 'CUSTOM_DISK_SSD'])
    provider('shr_disk_1', 'SHR_DISK_1', ['AGGA'], [('DISK_GB', 1000, {})], ['MISC_SHARES_VIA_AGGREGATE', 'CUSTOM_DISK_SSD'])
    provider('shr_disk_2', 'SHR_DISK_2', ['AGGA', 'AGGB'], [('DISK_GB', 1000, {})], ['MISC_SHARES_VIA_AGGREGATE'])
    provider('shr_net', 'SHR_NET', ['AGGC'], [('SRIOV_NET_VF', 16, {}), ('CUSTOM_NET_MBPS', 40000, {})],
             ['MISC_SHARES_VIA_AGGREGATE'])


FIXTURES = {'APIFixture': api_fixture, 'AllocationFixture': allocation_fixture, 'GranularFixture': granular_fixture}


def grant_service_role(suite):
    """Placement's own test fixture runs with the legacy policy defaults, under
    which admin also passes the service-only rules (the reshaper). The
    server applies the current defaults, so requests made as admin without
    roles are sent with `x-roles: admin,service`, as a deployment's admin
    token with both roles would be."""
    for test in suite._tests:
        headers = test.test_data.get('request_headers') or {}
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get('x-auth-token') == 'admin' and 'x-roles' not in lowered:
            test.test_data['request_headers'] = dict(headers, **{'x-roles': 'admin,service'})


def free_port(start):
    for port in range(start, start + 200):
        s = socket.socket()
        try:
            s.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError('no free port')


def wait_ready(port, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('server exited with status %s' % proc.returncode)
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError('server did not answer GET / in %ss' % timeout)


def known_failures():
    out = {}
    with open(os.path.join(HERE, 'known-failures.txt')) as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, rest = line.split(':', 1)
            test, _, why = rest.partition(' — ')
            out.setdefault(name.strip(), {})[test.strip()] = why.strip()
    return out


def run_file(name, port, verbose, expected_failures):
    path = os.path.join(GABBITS, name + '.yaml')
    with open(path) as fh:
        data = gabbi_utils.load_yaml(fh, safe=True)
    fixtures = data.pop('fixtures', None) or ['APIFixture']
    unknown = [f for f in fixtures if f not in FIXTURES]
    if unknown:
        return 0, 0, 0, ['fixture %s is not emulated' % ', '.join(unknown)]
    datadir = tempfile.mkdtemp(prefix='ledger-gabbi-')
    log = open(os.path.join(datadir, 'server.log'), 'w')
    proc = subprocess.Popen([os.path.join(ROOT, 'tools', 'serve-at'), str(port), datadir + '/data'],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    problems = []
    try:
        wait_ready(port, proc)
        env = {}
        client = Client(port)
        for f in fixtures:
            FIXTURES[f](client, env)
        os.environ.update(env)
        suite = suitemaker.test_suite_from_dict(
            unittest.defaultTestLoader, name.replace('-', '_'), data, GABBITS, '127.0.0.1', port,
            None, None, prefix='', handlers=[h() for h in gabbi_handlers.RESPONSE_HANDLERS],
            test_loader_name='ledger_conformance')
        grant_service_role(suite)
        result = unittest.TestResult()
        suite.run(result)
        failed = {t.test_data['name']: err for t, err in result.failures + result.errors}
        total = suite.countTestCases()
        unexpected = {k: v for k, v in failed.items() if k not in expected_failures}
        xfail = len(failed) - len(unexpected)
        for test_name, err in unexpected.items():
            problems.append(test_name + ((':\n' + err[-1500:]) if verbose else ''))
        for test_name in expected_failures:
            if test_name not in failed:
                problems.append('%s passed but is listed in known-failures.txt' % test_name)
        return total - len(failed), len(unexpected), xfail, problems
    except Exception as e:
        problems.append('%s: %s' % (type(e).__name__, e))
        return 0, 1, 0, problems
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
                if code != 0:
                    problems.append('server exited with status %d after SIGTERM' % code)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                problems.append('server did not stop within 15 s of SIGTERM')
        log.close()
        verify = subprocess.run([BIN, 'verify', '--data-dir', datadir + '/data'], capture_output=True, text=True)
        if verify.returncode != 0:
            problems.append('verify failed: ' + verify.stdout[-2000:])
        if not problems:
            subprocess.run(['rm', '-rf', datadir])
        else:
            problems.append('server log and data kept in ' + datadir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*')
    parser.add_argument('--list', default=os.path.join(HERE, 'acceptance.list'))
    parser.add_argument('--port-base', type=int, default=19800)
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args()
    names = args.names
    if not names:
        with open(args.list) as fh:
            names = [l.split('#')[0].strip() for l in fh if l.split('#')[0].strip()]
    known = known_failures()
    passed = failed = xfailed = 0
    bad_files = 0
    for name in names:
        port = free_port(args.port_base)
        p, f, x, problems = run_file(name, port, args.verbose, known.get(name, {}))
        passed, failed, xfailed = passed + p, failed + f, xfailed + x
        status = '%d/%d' % (p, p + f + x) + (' (%d known failures)' % x if x else '')
        print('%-40s %s' % (name, status), flush=True)
        for problem in problems:
            print('    ' + problem.replace('\n', '\n    '), flush=True)
        if problems:
            bad_files += 1
    if xfailed:
        print('%d known failures (tools/conformance/known-failures.txt) are counted as skipped' % xfailed)
    print('%d passed, %d failed, %d skipped' % (passed, failed, xfailed))
    return 1 if (failed or bad_files) else 0


if __name__ == '__main__':
    sys.exit(main())
