#!/usr/bin/env python3
"""Hostile input: requests built to break a parser, a schema check or the log.

Each case is sent raw over a socket (so nothing is cleaned up on the way):
malformed JSON, invalid UTF-8, 10,000-deep nesting, integers past 64 bits,
floats where integers belong, NUL bytes, very long and unicode names, wrong
content types, duplicate keys, absurd microversions, huge headers and bodies.
Every answer must be a 4xx (or the 2xx Placement gives), never a 5xx or a
dropped connection; a refused request must not move the log's last sequence;
the server must still answer afterwards; `placement-ledger verify` must pass.
Exits 1 on any failure.

Then connection abuse: a request head sent too slowly is cut off by the idle
timeout, and one client address opening hundreds of connections is held to
its limit while another address is still served. And one connection used
hard: pipelined requests (PUTs waiting for their commits, then GETs) come
back in order, the GET seeing the PUTs; a body sent in two pieces is read
whole; a refused PUT changes nothing a GET behind it sees; a connection busy with GETs is not
cut off as idle; `Connection: close` closes it after the answer.

usage: tools/hostile-test.py
"""
import json
import os
import select
import subprocess
import socket
import time
import sys
import tempfile
import uuid

from ledger_tools import binary, check_verify, free_port, report, serve

BIN = binary()


def raw(port, method, path, body=b'', headers=None, version='1.39'):
    """Sends one request as bytes; returns (status, headers dict, body bytes) or (None, reason)."""
    h = {'Host': '127.0.0.1', 'X-Auth-Token': 'admin', 'Connection': 'close'}
    if version is not None:
        h['OpenStack-API-Version'] = 'placement ' + version
    if body:
        h['Content-Type'] = 'application/json'
        h['Content-Length'] = str(len(body))
    h.update(headers or {})
    head = '%s %s HTTP/1.1\r\n' % (method, path) + ''.join('%s: %s\r\n' % kv for kv in h.items() if kv[1] is not None) + '\r\n'
    s = socket.create_connection(('127.0.0.1', port), timeout=30)
    try:
        s.sendall(head.encode('latin-1') + body)
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return None, {}, str(e).encode()
    finally:
        s.close()
    if not data:
        return None, {}, b'connection closed without an answer'
    head, _, rest = data.partition(b'\r\n\r\n')
    status, headers = parse_head(head)
    return status, headers, rest


def parse_head(head):
    """The status and the headers (names lower-cased) of an answer's head, without its blank line."""
    lines = head.decode('latin-1').split('\r\n')
    return int(lines[0].split()[1]), {k.lower(): v.strip() for k, _, v in (l.partition(':') for l in lines[1:])}


def last_sequence(port):
    status, headers, _ = raw(port, 'GET', '/resource_providers')
    return int(headers.get('x-ledger-sequence', '-1'))


def cases(rp):
    """(name, method, path, body bytes, extra headers, microversion, statuses allowed)."""
    alloc_path = '/allocations/' + str(uuid.uuid4())
    good_alloc = {'allocations': {rp: {'resources': {'VCPU': 1}}}, 'project_id': 'p', 'user_id': 'u', 'consumer_generation': None}
    deep = b'[' * 10000 + b']' * 10000
    deep_obj = b'{"name": ' + b'{"a": ' * 10000 + b'1' + b'}' * 10000 + b'}'
    bad = (400,)
    out = [
        ('malformed JSON', 'POST', '/resource_providers', b'{"name": "x"', {}, '1.39', bad),
        ('trailing garbage', 'POST', '/resource_providers', b'{"name": "x"} xx', {}, '1.39', bad),
        ('invalid UTF-8 in a string', 'POST', '/resource_providers', b'{"name": "\xff\xfe"}', {}, '1.39', bad),
        ('invalid UTF-8 as a key', 'POST', '/resource_providers', b'{"\xc3\x28": 1}', {}, '1.39', bad),
        ('10,000-deep array', 'POST', '/resource_providers', deep, {}, '1.39', bad),
        ('10,000-deep object', 'POST', '/resource_providers', deep_obj, {}, '1.39', bad),
        ('integer past 64 bits', 'PUT', alloc_path, json.dumps(dict(good_alloc, allocations={rp: {'resources': {'VCPU': 10 ** 30}}})).encode(), {}, '1.28', (409,)),
        ('negative 64-bit edge', 'PUT', alloc_path, json.dumps(dict(good_alloc, allocations={rp: {'resources': {'VCPU': -2 ** 63}}})).encode(), {}, '1.28', bad),
        ('float where an integer belongs', 'PUT', alloc_path, json.dumps(dict(good_alloc, allocations={rp: {'resources': {'VCPU': 1.5}}})).encode(), {}, '1.28', bad),
        ('1e400', 'PUT', '/resource_providers/%s/inventories/VCPU' % rp, b'{"resource_provider_generation": 1, "total": 1e400}', {}, '1.39', bad),
        ('NaN', 'PUT', '/resource_providers/%s/inventories/VCPU' % rp, b'{"resource_provider_generation": 1, "total": 8, "allocation_ratio": NaN}', {}, '1.39', bad),
        ('NUL in a name', 'POST', '/resource_providers', json.dumps({'name': 'a\u0000b'}).encode(), {}, '1.39', (200, 201, 400)),
        ('NUL in a trait', 'PUT', '/traits/CUSTOM_A%00B', b'', {}, '1.39', (400, 404)),
        ('very long name', 'POST', '/resource_providers', json.dumps({'name': 'n' * 100000}).encode(), {}, '1.39', bad),
        ('long resource class', 'POST', '/resource_classes', json.dumps({'name': 'CUSTOM_' + 'A' * 5000}).encode(), {}, '1.39', bad),
        ('unicode name', 'POST', '/resource_providers', json.dumps({'name': '\u263a\u2603 \u00e9\U0001F600'}).encode(), {}, '1.39', (200,)),
        ('lone surrogate escape', 'POST', '/resource_providers', b'{"name": "\\ud800"}', {}, '1.39', (200, 400)),
        ('duplicate keys', 'POST', '/resource_providers', b'{"name": "dup1", "name": "dup2"}', {}, '1.39', (200, 400)),
        ('text/plain body', 'POST', '/resource_providers', b'{"name": "x"}', {'Content-Type': 'text/plain'}, '1.39', (415,)),
        ('no content type', 'POST', '/resource_providers', b'{"name": "x"}', {'Content-Type': None}, '1.39', (400,)),
        ('form body', 'PUT', '/resource_providers/' + rp, b'name=x', {'Content-Type': 'application/x-www-form-urlencoded'}, '1.39', (415,)),
        ('array body', 'POST', '/resource_providers', b'[]', {}, '1.39', bad),
        ('null body', 'POST', '/resource_providers', b'null', {}, '1.39', bad),
        ('microversion 1.99999999999999999999', 'GET', '/resource_providers', b'', {}, '1.99999999999999999999', (406,)),
        ('microversion 99.0', 'GET', '/resource_providers', b'', {}, '99.0', (406,)),
        ('microversion -1.5', 'GET', '/resource_providers', b'', {}, '-1.5', (400, 406)),
        ('microversion garbage', 'GET', '/resource_providers', b'', {}, '\u00e9.\u00e9'.encode('utf-8').decode('latin-1'), (400,)),
        ('microversion 1.0x10', 'GET', '/resource_providers', b'', {}, '1.0x10', (400,)),
        ('query with NUL', 'GET', '/resource_providers?name=a%00b', b'', {}, '1.39', (200,)),
        ('query bad percent', 'GET', '/resource_providers?name=%zz%', b'', {}, '1.39', (200,)),
        ('bad uuid in path', 'GET', '/resource_providers/not-a-uuid', b'', {}, '1.39', (404,)),
        ('huge resources query', 'GET', '/resource_providers?resources=' + ','.join('VCPU:1' for _ in range(2000)), b'', {}, '1.39', (200, 400)),
        ('deep allocation candidates query', 'GET', '/allocation_candidates?' + '&'.join('resources%d=VCPU:1' % i for i in range(1, 60)) + '&group_policy=none', b'', {}, '1.39', (200, 400)),
        ('body over the limit', 'POST', '/resource_providers', b'{"name": "' + b'x' * (2 << 20) + b'"}', {}, '1.39', (413,)),
        ('negative content length', 'POST', '/resource_providers', b'', {'Content-Length': '-5', 'Content-Type': 'application/json'}, '1.39', (400,)),
        ('header of 100 KB', 'GET', '/resource_providers', b'', {'X-Junk': 'j' * 100000}, '1.39', (400, 413, 431)),
        ('absurd generation', 'PUT', '/resource_providers/%s/traits' % rp, json.dumps({'traits': [], 'resource_provider_generation': 2 ** 70}).encode(), {}, '1.39', (409,)),
        ('wrong types everywhere', 'PUT', '/resource_providers/%s/inventories' % rp, b'{"resource_provider_generation": "1", "inventories": []}', {}, '1.39', bad),
        ('reshaper garbage', 'POST', '/reshaper', b'{"inventories": {"x": 1}, "allocations": []}', {'X-Roles': 'admin,service'}, '1.39', bad),
    ]
    return out


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b''
    except socket.timeout:
        return False
    except OSError:
        return True


def connection_abuse(port):
    problems = []
    # Slowloris: half a request head, then nothing.
    slow = socket.create_connection(('127.0.0.1', port))
    slow.sendall(b'GET /resource_providers HTTP/1.1\r\nHost: x\r\n')
    if not closed_within(slow, 6):
        problems.append('a request head sent too slowly was not cut off by the idle timeout')
    print('%-36s %s' % ('slow request head', 'closed'), flush=True)
    # Flood from one address: the limit holds, another address is still served.
    flood = []
    for _ in range(100):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        s.connect(('127.0.0.1', port))
        flood.append(s)
    time.sleep(0.5)  # well inside the 2 s idle timeout
    readable, _, _ = select.select(flood, [], [], 0)
    refused = sum(1 for s in readable if closed_within(s, 0))
    if not 30 <= refused <= 40:
        problems.append('100 connections from one address with a limit of 64: %d were closed' % refused)
    other = socket.socket()
    other.bind(('127.0.0.2', 0))
    other.settimeout(10)
    other.connect(('127.0.0.1', port))
    other.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    answer = other.recv(100)
    if not answer.startswith(b'HTTP/1.1 200'):
        problems.append('another address was not served during the flood: %r' % answer[:60])
    print('%-36s %d of 100 closed, other address %s' % ('connection flood', refused, answer[:12].decode()), flush=True)
    for s in flood + [other, slow]:
        s.close()
    return problems


def read_answer(sock, buf):
    """One HTTP answer from `buf` plus what `sock` sends: (status, headers, body, rest of buf), or None when closed."""
    while b'\r\n\r\n' not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, buf = buf.partition(b'\r\n\r\n')
    status, headers = parse_head(head)
    length = int(headers.get('content-length', '0'))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return status, headers, buf[:length], buf[length:]


def one_connection(port, rp):
    problems = []
    consumer = str(uuid.uuid4())
    common = 'Host: x\r\nX-Auth-Token: admin\r\nOpenStack-API-Version: placement 1.39\r\n'

    def put(vcpu, generation):
        body = json.dumps({'allocations': {rp: {'resources': {'VCPU': vcpu}}}, 'project_id': 'p', 'user_id': 'u',
                           'consumer_generation': generation, 'consumer_type': 'INSTANCE'}).encode()
        return ('PUT /allocations/%s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n'
                % (consumer, common, len(body))).encode() + body

    get = ('GET /allocations/%s HTTP/1.1\r\n%s\r\n' % (consumer, common)).encode()
    root = ('GET / HTTP/1.1\r\n%s\r\n' % common).encode()
    s = socket.create_connection(('127.0.0.1', port), timeout=10)

    def answers_to(n, buf=b''):
        got = []
        for _ in range(n):
            a = read_answer(s, buf)
            if a is None:
                break
            got.append(a[:3])
            buf = a[3]
        return got

    def vcpu(answer):
        return json.loads(answer[2])['allocations'].get(rp, {}).get('resources', {}).get('VCPU')

    # Pipelined, one write: two writes (each waits for its commit) and two GETs.
    s.sendall(put(1, None) + put(2, 1) + get + root)
    answers = answers_to(4)
    statuses = [a[0] for a in answers]
    seqs = [int(a[1].get('x-ledger-sequence', '-1')) for a in answers]
    if statuses != [204, 204, 200, 200]:
        problems.append('pipelined PUT, PUT, GET, GET answered %s' % statuses)
    elif vcpu(answers[2]) != 2 or not seqs[0] < seqs[1] <= seqs[2]:
        problems.append('the pipelined GET did not see both PUTs before it: %r' % answers[2][2][:200])
    print('%-36s %s' % ('pipelined PUT, PUT, GET, GET', statuses), flush=True)
    # A body that arrives in two pieces, then a refused write (stale
    # generation) pipelined with a GET that must not see it.
    whole = put(3, 2)
    s.sendall(whole[:len(whole) - 20])
    time.sleep(0.3)
    s.sendall(whole[len(whole) - 20:])
    s.sendall(put(9, 0) + get)
    answers = answers_to(3)
    statuses = [a[0] for a in answers]
    if statuses != [204, 409, 200]:
        problems.append('split PUT, stale PUT, GET answered %s' % statuses)
    elif vcpu(answers[2]) != 3:
        problems.append('after a split PUT and a refused one the GET shows %r' % answers[2][2][:200])
    print('%-36s %s' % ('split PUT, stale PUT, GET', statuses), flush=True)
    # Busy with GETs for longer than the idle timeout (2 s): still open.
    kept = True
    for _ in range(8):
        s.sendall(root)
        a = read_answer(s, b'')
        if a is None or a[0] != 200:
            kept = False
            break
        time.sleep(0.4)
    if not kept:
        problems.append('a connection sending a GET every 0.4 s was closed (idle timeout 2 s)')
    s.sendall(('GET / HTTP/1.1\r\n%sConnection: close\r\n\r\n' % common).encode())
    a = read_answer(s, b'')
    closed = a is not None and a[0] == 200 and closed_within(s, 5)
    if not closed:
        problems.append('Connection: close was answered %s and the connection %s' % (
            a and a[0], 'closed' if closed_within(s, 0) else 'kept open'))
    print('%-36s %s' % ('busy connection, then close', 'kept, then closed' if kept and closed else 'WRONG'), flush=True)
    s.close()
    return problems


def start_refusals(datadir, port):
    """A second server on the same data dir, one on the port in use, and a truncated copy of
    the data dir must not start, and must say why."""
    problems = []
    taken = subprocess.run([BIN, 'serve', '--port', str(port), '--data-dir', datadir + '-other'],
                           capture_output=True, text=True, timeout=30)
    refused = taken.returncode != 0 and ('cannot listen on 127.0.0.1:%d' % port) in taken.stderr
    if not refused or 'serving Placement' in taken.stdout + taken.stderr:
        problems.append('a second server on the port in use: exit %s, %r' % (taken.returncode, (taken.stdout + taken.stderr)[-300:]))
    print('%-36s %s' % ('second server, same port', 'refused' if refused else 'STARTED'), flush=True)
    second = subprocess.run([BIN, 'serve', '--port', str(free_port()), '--data-dir', datadir],
                            capture_output=True, text=True, timeout=30)
    refused = second.returncode != 0 and 'already in use' in second.stderr
    if not refused:
        problems.append('a second server on the same data dir: exit %s, %r' % (second.returncode, second.stderr[-300:]))
    print('%-36s %s' % ('second server, same data dir', 'refused' if refused else 'STARTED'), flush=True)
    copy = datadir + '-truncated'
    os.makedirs(copy)
    with open(datadir + '/data.mdb', 'rb') as src, open(copy + '/data.mdb', 'wb') as dst:
        dst.write(src.read(8192 * 2))
    cut = subprocess.run([BIN, 'serve', '--port', str(free_port()), '--data-dir', copy], capture_output=True, text=True, timeout=30)
    refused = cut.returncode != 0 and 'truncated' in cut.stderr
    if not refused:
        problems.append('a truncated data.mdb: exit %s, %r' % (cut.returncode, cut.stderr[-300:]))
    print('%-36s %s' % ('truncated data.mdb', 'refused' if refused else 'STARTED'), flush=True)
    return problems


def main():
    root = tempfile.mkdtemp(prefix='ledger-hostile-')
    datadir = root + '/data'
    proc, port, _ = serve(BIN, datadir, extra=['--idle-timeout', '2', '--max-connections-per-client', '64'])
    failures = []
    try:
        rp = str(uuid.uuid4())
        raw(port, 'POST', '/resource_providers', json.dumps({'name': 'target', 'uuid': rp}).encode())
        raw(port, 'PUT', '/resource_providers/%s/inventories' % rp,
            json.dumps({'resource_provider_generation': 0, 'inventories': {'VCPU': {'total': 8}}}).encode())
        for name, method, path, body, headers, version, allowed in cases(rp):
            before = last_sequence(port)
            status, rheaders, rbody = raw(port, method, path, body, headers, version)
            after = last_sequence(port)
            if status is None:
                failures.append('%s: %s' % (name, rbody.decode('utf-8', 'replace')))
            elif status >= 500 or status not in allowed:
                failures.append('%s: %s %s' % (name, status, rbody[:300]))
            elif status >= 400:
                if after != before:
                    failures.append('%s: refused with %s but the log moved from %d to %d' % (name, status, before, after))
                if status not in (413, 431) and b'"errors"' not in rbody and rheaders.get('content-type', '').startswith('application/json'):
                    failures.append('%s: %s without Placement\'s error body' % (name, status))
            if after < 0:
                failures.append('%s: the server stopped answering' % name)
                break
            print('%-36s %s' % (name, status), flush=True)
        failures += connection_abuse(port)
        failures += one_connection(port, rp)
        failures += start_refusals(datadir, port)
    finally:
        proc.terminate()
        code = proc.wait(timeout=30)
    if code != 0:
        failures.append('server exited with %s after SIGTERM' % code)
    check_verify(BIN, datadir, failures)
    return report(failures, root, 'no 5xx, refused requests wrote nothing, verify passes')

if __name__ == '__main__':
    sys.exit(main())
