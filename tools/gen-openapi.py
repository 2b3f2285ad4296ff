#!/usr/bin/env python3
"""Writes schemas/openapi.yaml: an OpenAPI 3.1 description of the API at its
latest microversion (1.39), built from the request schemas in
schemas/requests/ so the two cannot drift.

The document is JSON (which is YAML), so the server's tests can read it with
the project's own JSON parser: PlacementAPITests/OpenAPITests checks that its
paths and methods are the server's routes and that every request body schema
is still the file it was built from. Run this after changing a route or a
request schema.
"""
import collections
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQ = os.path.join(ROOT, 'schemas', 'requests')
OUT = os.path.join(ROOT, 'schemas', 'openapi.yaml')

UUID = {'type': 'string', 'format': 'uuid'}
NAME = {'type': 'string', 'maxLength': 255}
# Examples that exist on a server tools/fuzz-test.py prepares, so generated
# requests reach past the 404s.
EXAMPLE_PROVIDER = 'c0ffee00-0000-4000-8000-000000000001'
EXAMPLE_CONSUMER = 'c0ffee00-0000-4000-8000-000000000002'
EXAMPLES = {'uuid': EXAMPLE_PROVIDER, 'consumer_uuid': EXAMPLE_CONSUMER, 'resource_class': 'VCPU', 'name': 'CUSTOM_FUZZ'}


def schema(name):
    with open(os.path.join(REQ, name + '.json')) as fh:
        s = json.load(fh, object_pairs_hook=collections.OrderedDict)
    s.pop('$schema', None)
    return s


def query_params(name, extra=()):
    """A query schema's properties as parameters (pattern properties get their unsuffixed form)."""
    s = schema(name)
    out = []
    required = set(s.get('required', []))
    for prop, sub in s.get('properties', {}).items():
        out.append({'name': prop, 'in': 'query', 'required': prop in required, 'schema': sub})
    for pattern, sub in s.get('patternProperties', {}).items():
        base = pattern.lstrip('^').split('(')[0]
        for suffix in ('',) + tuple(extra):
            out.append({'name': base + suffix, 'in': 'query', 'required': False, 'schema': sub})
    return out


def op(summary, ok, body=None, query=None, codes=(400, 401, 403, 404, 406, 409, 415), extra_query=()):
    o = collections.OrderedDict()
    o['summary'] = summary
    params = []
    if query:
        params += query_params(query, extra_query)
    if params:
        o['parameters'] = params
    if body:
        o['requestBody'] = {'required': True, 'content': {'application/json': {'schema': {'$ref': '#/components/schemas/' + body}}}}
    responses = collections.OrderedDict()
    for code in ok:
        responses[str(code)] = {'description': 'success'}
    for code in codes:
        responses[str(code)] = {'$ref': '#/components/responses/Error'}
    o['responses'] = responses
    return o


# Path, path parameters, then per method: (summary, success codes, body schema, query schema).
ROUTES = [
    ('/', {}, {'get': op('The version document', [200], codes=(406,))}),
    ('/resource_classes', {}, {
        'get': op('List resource classes', [200]),
        'post': op('Create a resource class', [201], body='resource-class-post')}),
    ('/resource_classes/{name}', {'name': NAME}, {
        'get': op('Show a resource class', [200]),
        'put': op('Create or check a custom resource class', [201, 204]),
        'delete': op('Delete a custom resource class', [204])}),
    ('/resource_providers', {}, {
        'get': op('List resource providers', [200], query='query-resource-providers-1.18'),
        'post': op('Create a resource provider', [200, 201], body='resource-provider-post-1.14')}),
    ('/resource_providers/{uuid}', {'uuid': UUID}, {
        'get': op('Show a resource provider', [200]),
        'delete': op('Delete a resource provider', [204]),
        'put': op('Update a resource provider', [200], body='resource-provider-put-1.14')}),
    ('/resource_providers/{uuid}/inventories', {'uuid': UUID}, {
        'get': op('List inventories', [200]),
        'post': op('Create one inventory', [201], body='inventory-post'),
        'put': op('Replace all inventories', [200], body='inventories-put'),
        'delete': op('Delete all inventories', [204])}),
    ('/resource_providers/{uuid}/inventories/{resource_class}', {'uuid': UUID, 'resource_class': NAME}, {
        'get': op('Show one inventory', [200]),
        'put': op('Update one inventory', [200], body='inventory-put'),
        'delete': op('Delete one inventory', [204])}),
    ('/resource_providers/{uuid}/usages', {'uuid': UUID}, {'get': op('Usages of a provider', [200])}),
    ('/resource_providers/{uuid}/aggregates', {'uuid': UUID}, {
        'get': op('List aggregates', [200]),
        'put': op('Replace aggregates', [200], body='aggregates-put-1.19')}),
    ('/resource_providers/{uuid}/allocations', {'uuid': UUID}, {'get': op('Allocations against a provider', [200])}),
    ('/allocations', {}, {'post': op('Set or clear several consumers\' allocations at once', [204], body='allocations-post-1.38')}),
    ('/allocations/{consumer_uuid}', {'consumer_uuid': UUID}, {
        'get': op('A consumer\'s allocations', [200]),
        'put': op('Replace a consumer\'s allocations', [204], body='allocation-put-1.38'),
        'delete': op('Delete a consumer\'s allocations', [204])}),
    ('/allocation_candidates', {}, {
        'get': op('Allocation candidates', [200], query='query-allocation-candidates-1.36', extra_query=('1', '_NET'))}),
    ('/traits', {}, {'get': op('List traits', [200], query='query-traits')}),
    ('/traits/{name}', {'name': NAME}, {
        'get': op('Show a trait', [204]),
        'put': op('Create a custom trait', [201, 204]),
        'delete': op('Delete a custom trait', [204])}),
    ('/resource_providers/{uuid}/traits', {'uuid': UUID}, {
        'get': op('A provider\'s traits', [200]),
        'put': op('Replace a provider\'s traits', [200], body='traits-put'),
        'delete': op('Remove a provider\'s traits', [204])}),
    ('/usages', {}, {'get': op('Usages of a project (and user)', [200], query='query-usages-1.38')}),
    ('/reshaper', {}, {'post': op('Move inventories and allocations atomically', [204], body='reshaper-1.38')}),
    ('/ledger/events', {}, {'get': op('The event log, filtered and paged (not Placement\'s)', [200])}),
    ('/ledger/consumers', {}, {'get': op('Consumers unchanged since a time (not Placement\'s)', [200])}),
    ('/ledger/consumers/{uuid}/history', {'uuid': UUID}, {'get': op('A consumer\'s history (not Placement\'s)', [200])}),
    ('/ledger/resource_providers/{uuid}/history', {'uuid': UUID}, {'get': op('A provider\'s history (not Placement\'s)', [200])}),
    ('/ledger/resource_providers/{uuid}/usage.svg', {'uuid': UUID}, {'get': op('A provider\'s usage over time as SVG (not Placement\'s)', [200])}),
]


def main():
    doc = collections.OrderedDict()
    doc['openapi'] = '3.1.0'
    doc['info'] = {
        'title': 'placement-ledger',
        'version': '1.39',
        'description': 'The OpenStack Placement API (microversions 1.0 to 1.39) as placement-ledger serves it, '
                       'described at microversion 1.39, plus the /ledger audit API. Generated by '
                       'tools/gen-openapi.py from schemas/requests/; do not edit.'}
    doc['servers'] = [{'url': 'http://127.0.0.1:8778'}]
    doc['security'] = [{'token': []}]
    paths = collections.OrderedDict()
    bodies = set()
    for path, params, methods in ROUTES:
        item = collections.OrderedDict()
        if params:
            item['parameters'] = [{'name': n, 'in': 'path', 'required': True, 'schema': s, 'example': EXAMPLES[n]}
                                  for n, s in params.items()]
        for method, o in methods.items():
            o = json.loads(json.dumps(o), object_pairs_hook=collections.OrderedDict)
            o['parameters'] = o.get('parameters', []) + [{'$ref': '#/components/parameters/Microversion'}]
            if path == '/':
                o['security'] = []
            item[method] = o
            ref = o.get('requestBody', {}).get('content', {}).get('application/json', {}).get('schema', {}).get('$ref')
            if ref:
                bodies.add(ref.rsplit('/', 1)[1])
        paths[path] = item
    doc['paths'] = paths
    doc['components'] = {
        'securitySchemes': {'token': {'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token',
                                      'description': 'noauth2: user[:project]; roles from X-Roles'}},
        'parameters': {'Microversion': {'name': 'OpenStack-API-Version', 'in': 'header', 'required': False,
                                        'schema': {'type': 'string', 'default': 'placement 1.39'}}},
        'responses': {'Error': {'description': 'Placement\'s error document', 'content': {'application/json': {'schema': {
            'type': 'object', 'required': ['errors'], 'properties': {'errors': {'type': 'array', 'items': {
                'type': 'object', 'required': ['status', 'title', 'detail', 'request_id'],
                'properties': {'status': {'type': 'integer'}, 'title': {'type': 'string'}, 'detail': {'type': 'string'},
                               'request_id': {'type': 'string'}, 'code': {'type': 'string'}}}}}}}}}},
        'schemas': collections.OrderedDict((name, schema(name)) for name in sorted(bodies)),
    }
    with open(OUT, 'w') as fh:
        json.dump(doc, fh, indent=2)
        fh.write('\n')
    print('wrote %s: %d paths, %d request body schemas' % (os.path.relpath(OUT, ROOT), len(paths), len(bodies)))


if __name__ == '__main__':
    main()
