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
import urllib.parse
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


def node(client, env, name, key=None, parent=None, aggs=(), inventory=(), traits=()):
    """One provider as Placement's fixture helpers make it; `inventory` holds
    (class, total, options) triples; the uuid goes to env[key] when given."""
    rp = new_uuid()
    client.provider(name, rp, parent=parent)
    if aggs:
        client.aggregates(rp, *aggs)
    for rc, total, kw in inventory:
        client.inventory(rp, rc, total, **kw)
    if traits:
        client.traits(rp, *traits)
    if key:
        env[key] = rp
    return rp


def shared_storage_fixture(client, env):
    """Two compute trees (cn -> numa -> pf) and two sharing disk providers, all in one aggregate."""
    api_fixture(client, env)
    agg = env['AGG_UUID'] = new_uuid()
    compute = [('VCPU', 24, {'allocation_ratio': 16.0}), ('MEMORY_MB', 128 * 1024, {'allocation_ratio': 1.5})]
    disk = ('DISK_GB', 2000, {'reserved': 100, 'allocation_ratio': 1.0})
    cn1 = node(client, env, 'cn1', 'CN1_UUID', aggs=[agg], inventory=compute, traits=['HW_CPU_X86_SSE', 'HW_CPU_X86_SSE2'])
    cn2 = node(client, env, 'cn2', 'CN2_UUID', aggs=[agg], inventory=compute + [disk])
    for n in (1, 2):
        node(client, env, 'ss' if n == 1 else 'ss2', 'SS_UUID' if n == 1 else 'SS2_UUID', aggs=[agg],
             inventory=[disk], traits=['MISC_SHARES_VIA_AGGREGATE'])
    for c, cn in ((1, cn1), (2, cn2)):
        for n in (1, 2):
            numa = node(client, env, 'numa%d_%d' % (c, n), 'NUMA%d_%d_UUID' % (c, n), parent=cn)
            node(client, env, 'pf%d_%d' % (c, n), 'PF%d_%d_UUID' % (c, n), parent=numa,
                 inventory=[('SRIOV_NET_VF', 8, {'allocation_ratio': 1.0})])


def numa_aggregate_fixture(client, env):
    """Two compute nodes without inventory, each with two NUMA children holding
    VCPU; sharing disk providers in aggregate A (both trees) and C (numa1_1)."""
    api_fixture(client, env)
    a, b, c = (env.setdefault(k, new_uuid()) for k in ('AGGA_UUID', 'AGGB_UUID', 'AGGC_UUID'))
    cn1 = node(client, env, 'cn1', 'CN1_UUID', aggs=[a])
    cn2 = node(client, env, 'cn2', 'CN2_UUID', aggs=[a, b])
    disk = [('DISK_GB', 2000, {'reserved': 100, 'allocation_ratio': 1.0})]
    node(client, env, 'ss1', 'SS1_UUID', aggs=[a], inventory=disk, traits=['MISC_SHARES_VIA_AGGREGATE'])
    node(client, env, 'ss2', 'SS2_UUID', aggs=[c], inventory=disk, traits=['MISC_SHARES_VIA_AGGREGATE'])
    vcpu = [('VCPU', 24, {'allocation_ratio': 16.0})]
    node(client, env, 'numa1_1', 'NUMA1_1_UUID', parent=cn1, aggs=[c], inventory=vcpu)
    node(client, env, 'numa1_2', 'NUMA1_2_UUID', parent=cn1, inventory=vcpu)
    node(client, env, 'numa2_1', 'NUMA2_1_UUID', parent=cn2, inventory=vcpu)
    node(client, env, 'numa2_2', 'NUMA2_2_UUID', parent=cn2, inventory=vcpu)


def numa_network_entities(client, env, cn1=None, cn2=None):
    """The trees of NUMANetworkFixture: cn1 (NUMA nodes with devices, network
    agents), cn2 (NICs with PFs), and a sharing disk provider for both."""
    agg = env['AGGA_UUID'] = new_uuid()
    node(client, env, 'ss1', 'SS1_UUID', aggs=[agg], inventory=[('DISK_GB', 2000, {})],
         traits=['MISC_SHARES_VIA_AGGREGATE'])
    if cn1:
        client.aggregates(cn1, agg)
        client.traits(cn1, 'COMPUTE_VOLUME_MULTI_ATTACH')
    else:
        cn1 = node(client, env, 'cn1', aggs=[agg], traits=['COMPUTE_VOLUME_MULTI_ATTACH'])
    env['CN1_UUID'] = cn1
    project, user = new_uuid(), new_uuid()
    numa0 = node(client, env, 'numa0', 'NUMA0_UUID', parent=cn1, traits=['HW_NUMA_ROOT'],
                 inventory=[('VCPU', 4, {}), ('MEMORY_MB', 2048, {'min_unit': 512, 'step_size': 256})])
    numa1 = node(client, env, 'numa1', 'NUMA1_UUID', parent=cn1, traits=['HW_NUMA_ROOT', 'CUSTOM_FOO'],
                 inventory=[('VCPU', 4, {}), ('MEMORY_MB', 2048, {'min_unit': 256, 'max_unit': 1024})])
    client.allocate(new_uuid(), numa0, {'VCPU': 2}, project, user)
    node(client, env, 'fpga0', 'FPGA0_UUID', parent=numa0, inventory=[('FPGA', 1, {})])
    node(client, env, 'pgpu0', 'PGPU0_UUID', parent=numa0, inventory=[('VGPU', 8, {})])
    for i in (0, 1):
        node(client, env, 'fpga1_%d' % i, 'FPGA1_%d_UUID' % i, parent=numa1, inventory=[('FPGA', 1, {})])
    sriov = node(client, env, 'sriov_agent', 'SRIOV_AGENT_UUID', parent=cn1, traits=['CUSTOM_VNIC_TYPE_DIRECT'])
    for i in (1, 2):
        node(client, env, 'esn%d' % i, 'ESN%d_UUID' % i, parent=sriov, traits=['CUSTOM_PHYSNET%d' % i],
             inventory=[('NET_BW_EGR_KILOBIT_PER_SEC', 10000 * i, {})])
    ovs = node(client, env, 'ovs_agent', 'OVS_AGENT_UUID', parent=cn1, traits=['CUSTOM_VNIC_TYPE_NORMAL'])
    node(client, env, 'br_int', 'BR_INT_UUID', parent=ovs, traits=['CUSTOM_PHYSNET0'],
         inventory=[('NET_BW_EGR_KILOBIT_PER_SEC', 1000, {})])
    if cn2:
        client.aggregates(cn2, agg)
    else:
        cn2 = node(client, env, 'cn2', aggs=[agg])
    env['CN2_UUID'] = cn2
    client.inventory(cn2, 'VCPU', 8)
    client.allocate(new_uuid(), cn2, {'VCPU': 3}, project, user)
    client.inventory(cn2, 'MEMORY_MB', 2048, min_unit=1024, step_size=128)
    client.inventory(cn2, 'DISK_GB', 1000)
    client.traits(cn2, 'CUSTOM_FOO')
    nics = [node(client, env, 'nic%d' % i, 'NIC%d_UUID' % i, parent=cn2, traits=['CUSTOM_HW_NIC_ROOT']) for i in (1, 2, 3)]
    for i in (1, 2):
        node(client, env, 'pf1_%d' % i, 'PF1_%d_UUID' % i, parent=nics[0], traits=['CUSTOM_PHYSNET%d' % i],
             inventory=[('CUSTOM_VF', 4, {})])
    for i in range(4):
        node(client, env, 'pf2_%d' % (i + 1), 'PF2_%d_UUID' % (i + 1), parent=nics[1],
             traits=['CUSTOM_PHYSNET%d' % (i % 2 + 1)], inventory=[('CUSTOM_VF', 2, {})])
    node(client, env, 'pf3_1', 'PF3_1_UUID', parent=nics[2], traits=['CUSTOM_PHYSNET1'], inventory=[('CUSTOM_VF', 8, {})])


def numa_network_fixture(client, env):
    api_fixture(client, env)
    numa_network_entities(client, env)


def deep_numa_network_fixture(client, env):
    """NUMANetworkFixture with cn1 and cn2 under parents p1 and p2 of a grandparent gp1."""
    api_fixture(client, env)
    gp1 = node(client, env, 'gp1')
    p1 = node(client, env, 'p1', parent=gp1)
    p2 = node(client, env, 'p2', parent=gp1)
    numa_network_entities(client, env, cn1=node(client, env, 'cn1', parent=p1), cn2=node(client, env, 'cn2', parent=p2))


def non_shared_storage_fixture(client, env):
    """Three compute nodes with local VCPU, memory and disk."""
    api_fixture(client, env)
    for agg in ('AGGA_UUID', 'AGGB_UUID', 'AGGC_UUID'):
        env[agg] = new_uuid()
    for i in (1, 2, 3):
        node(client, env, 'cn%d' % i, 'CN%d_UUID' % i,
             inventory=[('VCPU', 24, {}), ('MEMORY_MB', 128 * 1024, {}), ('DISK_GB', 2000, {})])


def neutron_qos_multi_segment_fixture(client, env):
    """Four computes, each with an OVS agent (packet rate) over bridges
    (bandwidth) and an SR-IOV agent over PFs (bandwidth), on physnets
    OTHER, MSN_S1 and MSN_S2."""
    api_fixture(client, env)
    compute = [('VCPU', 8, {}), ('MEMORY_MB', 4096, {}), ('DISK_GB', 500, {})]
    sriov_traits = ['CUSTOM_VNIC_TYPE_DIRECT', 'CUSTOM_VNIC_TYPE_DIRECT_PHYSICAL', 'CUSTOM_VNIC_TYPE_MACVTAP']
    layout = {0: (5000, ['OTHER'], 10000, ['OTHER']), 1: (5000, ['MSN_S1'], 10000, ['MSN_S1']),
              2: (5000, ['MSN_S2'], 10000, ['MSN_S2']), 3: (1000, ['MSN_S1', 'MSN_S2'], 1000, ['MSN_S1', 'MSN_S2'])}
    for n, (bridge_bw, bridge_nets, pf_bw, pf_nets) in sorted(layout.items()):
        c = 'compute%d' % n
        cn = node(client, env, c, c, inventory=compute)
        ovs = node(client, env, c + ':Open vSwitch agent', c + ':ovs_agent', parent=cn,
                   inventory=[('NET_PACKET_RATE_KILOPACKET_PER_SEC', 1000, {})], traits=['CUSTOM_VNIC_TYPE_NORMAL'])
        for i, net in enumerate(bridge_nets):
            suffix = '' if i == 0 else str(i + 1)
            node(client, env, c + ':Open vSwitch agent:br-ex' + suffix, c + ':br_ex' + suffix, parent=ovs,
                 inventory=[('NET_BW_EGR_KILOBIT_PER_SEC', bridge_bw, {}), ('NET_BW_IGR_KILOBIT_PER_SEC', bridge_bw, {})],
                 traits=['CUSTOM_VNIC_TYPE_NORMAL', 'CUSTOM_PHYSNET_' + net])
        sriov = node(client, env, c + ':NIC Switch agent', c + ':sriov_agent', parent=cn, traits=sriov_traits)
        for i, net in enumerate(pf_nets):
            node(client, env, c + ':NIC Switch agent:enp129s0f%d' % i, c + ':pf%d' % i, parent=sriov,
                 inventory=[('NET_BW_EGR_KILOBIT_PER_SEC', pf_bw, {}), ('NET_BW_IGR_KILOBIT_PER_SEC', pf_bw, {})],
                 traits=sriov_traits + ['CUSTOM_PHYSNET_' + net])
    # Placement's fixture exports compute2's SR-IOV agent under compute3's name too.
    env['compute3:sriov_agent'] = env['compute2:sriov_agent']


FIXTURES = {'APIFixture': api_fixture, 'AllocationFixture': allocation_fixture, 'GranularFixture': granular_fixture,
            'SharedStorageFixture': shared_storage_fixture, 'NUMAAggregateFixture': numa_aggregate_fixture,
            'NUMANetworkFixture': numa_network_fixture, 'DeepNUMANetworkFixture': deep_numa_network_fixture,
            'NonSharedStorageFixture': non_shared_storage_fixture,
            'NeutronQoSMultiSegmentFixture': neutron_qos_multi_segment_fixture,
            # These configure the server (see server_flags); their data is APIFixture's.
            'SecureRBACPolicyFixture': api_fixture, 'LegacyRBACPolicyFixture': api_fixture,
            'OpenPolicyFixture': api_fixture, 'CORSFixture': api_fixture}


def server_flags(fixtures, datadir):
    """How Placement's fixture configures the server, as serve flags.

    Placement's APIFixture runs with `enforce_new_defaults = False` (admin
    passes the service-only rules); SecureRBACPolicyFixture turns the new
    defaults on; OpenPolicyFixture opens every rule but admin_api with a
    policy file; CORSFixture allows one origin and one header."""
    flags = []
    if 'SecureRBACPolicyFixture' not in fixtures:
        flags.append('--legacy-policy-defaults')
    if 'OpenPolicyFixture' in fixtures:
        sample = subprocess.run([BIN, 'policy-sample'], capture_output=True, text=True, check=True).stdout
        names = [line.split('"')[1] for line in sample.splitlines() if line.startswith('#"')]
        path = os.path.join(datadir, 'open-policy.yaml')
        with open(path, 'w') as fh:
            fh.writelines('"%s": "@"\n' % n for n in names if n != 'admin_api')
        flags += ['--policy-file', path]
    if 'CORSFixture' in fixtures:
        flags += ['--cors-allowed-origin', 'http://valid.example.com', '--cors-allow-header', 'openstack-api-version']
    return flags


def send_verbatim_when_refused():
    """httpx will not send some deliberately malformed requests (basic-http's
    `content-length: hi mom`); those go out through http.client, which sends
    headers as given, so the server is the one that answers them."""
    import http.client
    import httpx
    from gabbi import httpclient

    original = httpclient.Http.request

    def request(self, uri, method, body, headers, redirect, timeout):
        try:
            return original(self, uri, method, body, headers, redirect, timeout)
        except httpx.LocalProtocolError:
            pass
        parts = urllib.parse.urlsplit(uri)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.putrequest(method, (parts.path or '/') + ('?' + parts.query if parts.query else ''),
                            skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders(body.encode() if isinstance(body, str) else body)
            resp = conn.getresponse()
            content = resp.read()
            out = httpx.Headers(resp.getheaders())
            out['status'] = str(resp.status)
            out['reason'] = resp.reason
            out['http_protocol_version'] = 'HTTP/1.1'
            return out, content
        finally:
            conn.close()

    httpclient.Http.request = request


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
    server_env = dict(os.environ, LEDGER_SERVE_FLAGS=' '.join(server_flags(fixtures, datadir)))
    proc = subprocess.Popen([os.path.join(ROOT, 'tools', 'serve-at'), str(port), datadir + '/data'],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=server_env)
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
    send_verbatim_when_refused()
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
