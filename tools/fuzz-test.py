#!/usr/bin/env python3
"""Fuzz test: schemathesis (from PyPI) against a live server, driven by
schemas/openapi.yaml, valid and invalid requests alike.

Passes when no request got a 5xx (schemathesis' not_a_server_error check),
at least --min-cases cases ran (a guard against a run that tested little:
schemathesis drops duplicate cases, so the count varies from run to run, by
about 15% around 11,000 here), the server still stops cleanly, and
`placement-ledger verify` passes on what the run left. Installs schemathesis
into a venv beside the checkout (FUZZ_VENV, default ../.venv-fuzz).

usage: tools/fuzz-test.py [--examples 360] [--min-cases 9000] [--seed N]
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

from ledger_tools import ROOT, binary, check_verify, report, serve

BIN = binary()


def venv():
    path = os.environ.get('FUZZ_VENV', os.path.join(ROOT, '..', '.venv-fuzz'))
    exe = os.path.join(path, 'bin', 'schemathesis')
    if not os.path.exists(os.path.join(path, '.ready')):
        subprocess.run([sys.executable, '-m', 'venv', path], check=True)
        subprocess.run([os.path.join(path, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check',
                        'schemathesis==4.32.5'], check=True)
        open(os.path.join(path, '.ready'), 'w').close()
    return exe


def prepare(port):
    """The examples schemas/openapi.yaml names: a provider with inventory, a consumer, a custom class and trait."""
    import urllib.request

    def call(method, path, body=None):
        req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header('x-auth-token', 'admin')
        req.add_header('openstack-api-version', 'placement 1.39')
        req.add_header('content-type', 'application/json')
        urllib.request.urlopen(req).read()

    rp, consumer = 'c0ffee00-0000-4000-8000-000000000001', 'c0ffee00-0000-4000-8000-000000000002'
    call('POST', '/resource_providers', {'name': 'fuzz', 'uuid': rp})
    call('PUT', '/resource_providers/%s/inventories' % rp, {
        'resource_provider_generation': 0, 'inventories': {'VCPU': {'total': 64}, 'MEMORY_MB': {'total': 65536}}})
    call('PUT', '/allocations/' + consumer, {'allocations': {rp: {'resources': {'VCPU': 1}}}, 'project_id': 'p',
                                            'user_id': 'u', 'consumer_generation': None, 'consumer_type': 'INSTANCE'})
    call('PUT', '/resource_classes/CUSTOM_FUZZ')
    call('PUT', '/traits/CUSTOM_FUZZ')


def describe(case):
    """One recorded interaction as text a developer can replay with curl."""
    req = case.get('request') or {}
    resp = case.get('response') or {}
    lines = ['  %s %s -> %s' % (req.get('method'), req.get('uri'), resp.get('status_code'))]
    headers = req.get('headers') or {}
    for name in ('openstack-api-version', 'OpenStack-API-Version', 'Content-Type', 'content-type'):
        if name in headers:
            lines.append('    %s: %s' % (name, headers[name]))
    for label, part in (('request body', req.get('body')), ('response body', resp.get('body') or resp.get('content'))):
        if part:
            if isinstance(part, dict) and '$base64' in part:
                text = base64.b64decode(part['$base64']).decode('utf-8', 'replace')
            else:
                text = part if isinstance(part, str) else json.dumps(part)
            lines.append('    %s: %s' % (label, text[:2000]))
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--examples', type=int, default=360, help='cases per operation and phase')
    ap.add_argument('--min-cases', type=int, default=9000)
    ap.add_argument('--seed', type=int, default=None)
    args = ap.parse_args()
    exe = venv()
    root = tempfile.mkdtemp(prefix='ledger-fuzz-')
    datadir = root + '/data'
    proc, port, _ = serve(BIN, datadir, log=root + '/server.log')
    events_path = root + '/events.ndjson'
    failures = []
    try:
        prepare(port)
        cmd = [exe, 'run', os.path.join(ROOT, 'schemas', 'openapi.yaml'), '--url', 'http://127.0.0.1:%d' % port,
               '-H', 'X-Auth-Token: admin', '-H', 'X-Roles: admin,service', '-H', 'OpenStack-API-Version: placement latest',
               '--checks', 'not_a_server_error', '--mode', 'all', '--max-examples', str(args.examples),
               '--phases', 'examples,coverage,fuzzing', '--no-shrink', '--continue-on-failure',
               '--request-timeout', '30', '--workers', '4', '--suppress-health-check', 'all',
               '--report', 'ndjson', '--report-ndjson-path', events_path, '--output-truncate', 'true']
        if args.seed is not None:
            cmd += ['--seed', str(args.seed)]
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=root)  # its cache goes in root, not the checkout
        tail = '\n'.join(run.stdout.splitlines()[-40:])
        cases = 0
        statuses = {}
        failed_checks = 0
        tool_errors = []
        server_error_cases = []
        with open(events_path) as fh:
            for line in fh:
                ev = json.loads(line)
                if 'NonFatalError' in ev:
                    # schemathesis' own trouble generating a case (e.g. CPython's
                    # "AST constructor recursion depth mismatch"): not the server's.
                    tool_errors.append(ev['NonFatalError'].get('value', {}).get('message', '?'))
                sc = ev.get('ScenarioFinished')
                if not sc:
                    continue
                if sc.get('status') == 'failure':
                    failed_checks += 1
                for case in (sc.get('recorder') or {}).get('interactions', {}).values():
                    resp = (case or {}).get('response') or {}
                    cases += 1
                    code = resp.get('status_code')
                    statuses[code] = statuses.get(code, 0) + 1
                    if code is not None and code >= 500:
                        server_error_cases.append(describe(case))
        server_errors = sum(n for code, n in statuses.items() if code is not None and code >= 500)
        print('schemathesis: %d cases, statuses %s' % (cases, dict(sorted((str(k), v) for k, v in statuses.items()))))
        for e in tool_errors:
            print('note: schemathesis could not generate some cases: ' + e)
        if server_errors or failed_checks:
            failures.append('schemathesis found failures (%d server errors, %d failed scenarios):\n%s\n%s' % (
                server_errors, failed_checks, '\n'.join(server_error_cases[:10]), tail))
        if cases < args.min_cases:
            failures.append('only %d cases ran (want at least %d):\n%s' % (cases, args.min_cases, tail))
    finally:
        proc.terminate()
        code = proc.wait(timeout=60)
    if code != 0:
        failures.append('server exited with %s after SIGTERM' % code)
    print(check_verify(BIN, datadir, failures))
    return report(failures, root, 'no 5xx, verify passes')

if __name__ == '__main__':
    sys.exit(main())
