#!/usr/bin/env python3
"""A registry front that demands Bearer tokens, for test_image_pull.sh.

    token_proxy.py PORT UPSTREAM_PORT USER PASSWORD STATIC_TOKEN [BYTES_PER_S]

Listens on 127.0.0.1:PORT. /token hands out a fresh token to USER:PASSWORD
(HTTP Basic), as the token service of a registry does; /v2/... answers 401
with a Bearer challenge naming that realm unless the request carries an
issued token or STATIC_TOKEN, and is otherwise forwarded to the registry on
127.0.0.1:UPSTREAM_PORT. Only GET and HEAD: the test only pulls. With
BYTES_PER_S, bodies are sent at about that rate (a slow registry, so a test
can interrupt a pull midway).
"""
import base64
import http.client
import http.server
import json
import secrets
import sys
import time

PORT, UP, USER, PASSWORD, STATIC = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
RATE = int(sys.argv[6]) if len(sys.argv) > 6 else 0
issued = {STATIC}


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_one(self):
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if auth != want:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
            tok = secrets.token_hex(16)
            issued.add(tok)
            return self.reply(200, json.dumps({"token": tok}).encode(),
                              [("Content-Type", "application/json")])
        if not (auth.startswith("Bearer ") and auth[7:] in issued):
            parts = self.path.split("/")
            repo = "/".join(parts[2:-2]) if len(parts) > 4 else ""
            ch = 'Bearer realm="http://127.0.0.1:%d/token",service="zos-test",scope="repository:%s:pull"' % (PORT, repo)
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              [("WWW-Authenticate", ch), ("Content-Type", "application/json")])
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=30)
        hdr = {k: v for k, v in self.headers.items() if k.lower() in ("accept",)}
        c.request(self.command, self.path, headers=hdr)
        r = c.getresponse()
        keep = [(k, v) for k, v in r.getheaders()
                if k.lower() in ("content-type", "docker-content-digest", "location")]
        if not RATE:
            self.reply(r.status, r.read(), keep)
            return c.close()
        self.send_response(r.status)
        for k, v in keep + [("Content-Length", r.getheader("Content-Length", "0"))]:
            self.send_header(k, v)
        self.end_headers()
        while self.command != "HEAD":
            chunk = r.read(65536)
            if not chunk:
                break
            self.wfile.write(chunk)
            time.sleep(len(chunk) / RATE)
        c.close()

    do_GET = handle_one
    do_HEAD = handle_one


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
