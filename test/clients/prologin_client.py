#!/usr/bin/env python3
"""A client of the prologin RPC (spec §1.3) and synchronisation (spec §1.4) protocols, written
from the specification with the Python standard library only, the way the original
`prologin.rpc.client` and `prologin.synchronisation.Client` behave on the wire.

Used by test/clients/python-client.test.ts against a running Gatehouse. `--connect HOST:PORT`
sends the requests to that address while keeping the URL's host name in the Host header (like
curl --connect-to), because the appliance routes on Host (mdb, mdbsync, ...).

  prologin_client.py rpc URL METHOD [--secret S] [--args JSON] [--kwargs JSON]
  prologin_client.py poll URL --secret S --pk KEY [--lines N]    prints `state meta` per line
  prologin_client.py send URL --secret S DATA_JSON
  prologin_client.py token SECRET MESSAGE|- TS
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import time
import urllib.parse

TOKEN_TIMEOUT = 120


def get_hmac(secret, message):
    return hmac.new(secret.encode('utf-8'), message.encode('ascii'), hashlib.sha256).hexdigest()


def generate_token(secret, message=None, ts=None):
    stamp = str(int(time.time() if ts is None else ts))
    return '{}:{}'.format(stamp, get_hmac(secret, str(message) + stamp))


class RemoteError(Exception):
    def __init__(self, type, message):
        super().__init__('{}: {}'.format(type, message))
        self.type = type
        self.message = message


class ProtocolError(Exception):
    pass


class Transport:
    def __init__(self, url, connect=None):
        self.url = url
        parts = urllib.parse.urlsplit(url)
        self.host_header = parts.netloc
        if connect:
            host, _, port = connect.rpartition(':')
            self.address = (host, int(port))
        else:
            self.address = (parts.hostname, parts.port or 80)

    def open(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(*self.address, timeout=None)
        hdrs = {'Host': self.host_header}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        return conn, conn.getresponse()


class RpcClient:
    """prologin.rpc.client.Client: POST call/<method>, JSON + newline, optional hmac."""

    def __init__(self, url, secret=None, connect=None):
        self.transport = Transport(url, connect)
        self.base_path = urllib.parse.urlsplit(url).path or '/'
        self.secret = secret

    def call(self, method, *args, **kwargs):
        data = {'args': list(args), 'kwargs': kwargs}
        if self.secret is not None:
            data['hmac'] = generate_token(self.secret, method)
        path = urllib.parse.urljoin(self.base_path, 'call/' + method)
        conn, resp = self.transport.open('POST', path, (json.dumps(data) + '\n').encode())
        try:
            body = resp.read()
        finally:
            conn.close()
        # The legacy client compares the content type for equality.
        if resp.getheader('Content-Type') != 'application/json':
            raise ProtocolError('not a JSON answer: HTTP {} {}'.format(resp.status, resp.getheader('Content-Type')))
        answer = json.loads(body.decode('utf-8'))
        if answer['type'] == 'result':
            return answer['data']
        if answer['type'] == 'exception':
            raise RemoteError(answer['exn_type'], answer['exn_message'])
        raise ProtocolError('unknown answer type {!r}'.format(answer['type']))


def apply_updates(pk, backlog, updates, watch=None):
    meta = {}
    for update in updates:
        data = update['data']
        key = data[pk]
        if update['type'] == 'update':
            if key not in backlog:
                meta[key] = 'created'
            elif watch is None or any(data[f] != backlog[key][f] for f in watch):
                meta[key] = 'updated'
            backlog[key] = data
        elif update['type'] == 'delete':
            if backlog.pop(key, None) is not None:
                meta[key] = 'deleted'
    return meta


class SyncClient:
    def __init__(self, url, pk, pub_secret=None, sub_secret=None, connect=None):
        self.transport = Transport(url, connect)
        self.pk = pk
        self.pub_secret = pub_secret
        self.sub_secret = sub_secret

    def send_updates(self, updates_json):
        data = updates_json if isinstance(updates_json, str) else json.dumps(updates_json)
        body = urllib.parse.urlencode({'data': data, 'hmac': generate_token(self.pub_secret, data)})
        conn, resp = self.transport.open(
            'POST', '/update', body.encode(), {'Content-Type': 'application/x-www-form-urlencoded'}
        )
        resp.read()
        conn.close()
        if resp.status != 200:
            raise RuntimeError('Unable to post an update: HTTP {}'.format(resp.status))

    def poll_updates(self, callback, watch=None, max_lines=None):
        params = urllib.parse.urlencode({'data': '{}', 'hmac': generate_token(self.sub_secret)})
        conn, resp = self.transport.open('GET', '/poll?' + params)
        if resp.status != 200:
            raise RuntimeError('poll refused: HTTP {} {}'.format(resp.status, resp.read().decode()))
        state = {}
        seen = 0
        try:
            while max_lines is None or seen < max_lines:
                line = resp.readline().decode('utf-8').strip()
                if not line:
                    break
                meta = apply_updates(self.pk, state, json.loads(line), watch)
                callback(state, meta)
                seen += 1
        finally:
            conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('command', choices=['rpc', 'poll', 'send', 'token'])
    p.add_argument('rest', nargs='*')
    p.add_argument('--secret')
    p.add_argument('--args', default='[]')
    p.add_argument('--kwargs', default='{}')
    p.add_argument('--pk', default='mac')
    p.add_argument('--lines', type=int)
    p.add_argument('--connect')
    a = p.parse_intermixed_args()
    if a.command == 'token':
        secret, message, ts = a.rest
        print(generate_token(secret, None if message == '-' else message, int(ts)))
    elif a.command == 'rpc':
        url, method = a.rest
        client = RpcClient(url, a.secret, a.connect)
        try:
            print(json.dumps(client.call(method, *json.loads(a.args), **json.loads(a.kwargs))))
        except RemoteError as e:
            print('RemoteError {} {}'.format(e.type, e.message))
            return 3
    elif a.command == 'poll':
        (url,) = a.rest
        client = SyncClient(url, a.pk, sub_secret=a.secret, connect=a.connect)
        client.poll_updates(lambda state, meta: (print(state, meta), sys.stdout.flush()), max_lines=a.lines)
    elif a.command == 'send':
        url, data = a.rest
        SyncClient(url, a.pk, pub_secret=a.secret, connect=a.connect).send_updates(data)
        print('sent')
    return 0


if __name__ == '__main__':
    sys.exit(main())
