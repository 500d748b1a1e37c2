#!/usr/bin/python3
"""s3proxy.py: a proxy in front of an S3 server for tests and benchmarks.
Standard library only; listens on 127.0.0.1 only.

    s3proxy.py --mode latency --upstream HOST:PORT [--delay-ms 5]
    s3proxy.py --mode fault   --upstream HOST:PORT
    s3proxy.py --mode oss     --upstream HOST:PORT --access-key AK --secret-key SK

Prints one JSON line {"port": P, "control": C} once it listens (C is null
in latency mode) and runs until SIGTERM, SIGINT or its parent exits.

--tls-cert FILE --tls-key FILE (fault and oss modes): the proxy speaks
https to its clients with that certificate (PEM) and key, and plain http
to the upstream. Each connection's handshake runs on its own thread; a
client that refuses the certificate only ends its own connection (logged
as {"tls_error": reason}). The control port stays plain http.

latency  A TCP proxy that holds every chunk for --delay-ms in each
         direction (and a new connection for two delays, the handshake),
         keeping the order and the throughput: chunks are stamped when
         read and sent when due, reading never waits for sending.

fault    An HTTP/1.1 pass-through that forwards every request byte for
         byte (Host and every signed header unchanged, so SigV4 still
         verifies upstream) and logs it. Faults are armed through the
         control port (see Control below) for the next N requests whose
         method and target (path?query) match:
           503       answer 503 SlowDown (S3's XML), nothing forwarded
           reset     forward; send the answer's head and half its body,
                     then reset the connection (RST); with an empty body
                     reset before any byte of the answer
           stall     (forward=False by default) send nothing for
                     `seconds`, then close
           truncate  forward; send the head (Content-Length of the whole
                     body) and half the body, then close
           late      send nothing until the client gives up (or `seconds`
                     pass), then `after` seconds later (default 0.2)
                     forward the request: a write that lands after its
                     writer saw it fail; the answer goes nowhere
         `forward` sets whether the request reaches the server first
         (for 503 and stall; reset and truncate always forward).
         With --require-region R, a SigV4 request whose credential scope
         names another region gets AWS's 400 AuthorizationHeaderMalformed
         (RGW itself accepts any region).

oss      Alibaba OSS's S3-API answers in front of an S3 server that
         speaks virtual-hosted style for Host BUCKET.localhost:
           - path-style requests: 403 SecondLevelDomainForbidden;
           - PUT with If-None-Match: 501 NotImplemented;
           - PUT (or CompleteMultipartUpload) with
             x-oss-forbid-overwrite: true onto an existing key:
             409 FileAlreadyExists. The check (a HEAD signed with the
             proxy's own keys) and the forward run under a per-key lock,
             and a forwarded PUT also carries an (unsigned)
             If-None-Match: * so a writer that bypasses the proxy
             cannot be overwritten either;
           - a GET whose Range is out of bounds, malformed or multiple,
             without x-oss-range-behavior: standard, gets the whole
             object with 200 (OSS's default); with the header, S3's
             answers (clamped end 206, start past the end 416).
         Requests are logged and faults can be armed as in fault mode.

Control (fault and oss modes): HTTP on 127.0.0.1:C
    POST /arm    {"method": "GET"|"*", "match": REGEX, "fault": ...,
                  "count": N, "seconds": S, "forward": BOOL, "after": S}
    POST /clear  drops armed faults and the log
    GET  /log    [{"n", "method", "target", "host", "status", "fault",
                   "headers": {lower-case name: value}}] of every request
    GET  /armed  the faults still armed, with what is left of each count
The Control class below is a client for it.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import queue
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

CHUNK = 256 * 1024


# ------------------------------------------------------------ latency mode

class LatencyProxy:
    def __init__(self, upstream, delay_ms, port=0):
        self.upstream = upstream
        self.delay = delay_ms / 1000.0
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.stopping.set()
        self.sock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        time.sleep(2 * self.delay)      # SYN, SYN-ACK
        try:
            u = socket.create_connection(self.upstream)
        except OSError:
            c.close()
            return
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        done = threading.Barrier(4, action=lambda: (c.close(), u.close()))
        for src, dst in ((c, u), (u, c)):
            q = queue.Queue()
            threading.Thread(target=self._read, args=(src, q, done),
                             daemon=True).start()
            threading.Thread(target=self._send, args=(dst, q, done),
                             daemon=True).start()

    def _read(self, src, q, done):
        try:
            while True:
                data = src.recv(CHUNK)
                q.put((time.monotonic() + self.delay, data))
                if not data:
                    break
        except OSError:
            q.put((time.monotonic(), None))
        finally:
            _wait(done)

    def _send(self, dst, q, done):
        try:
            while True:
                due, data = q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if data is None:          # the source failed: reset
                    _reset(dst)
                    break
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _wait(done)


def _wait(barrier):
    try:
        barrier.wait(timeout=600)
    except threading.BrokenBarrierError:
        pass


def _reset(sock):
    """Close with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


# ------------------------------------------------------------ HTTP parsing

class Closed(Exception):
    pass


class Reader:
    """Buffered reads of HTTP messages from a socket."""
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise Closed()
        self.buf += data

    def head(self):
        """Bytes up to and including the blank line; None at a clean EOF
        between messages."""
        while b"\r\n\r\n" not in self.buf:
            try:
                self._more()
            except Closed:
                if self.buf:
                    raise
                return None
        i = self.buf.index(b"\r\n\r\n") + 4
        h, self.buf = self.buf[:i], self.buf[i:]
        return h

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def chunked(self):
        """A chunked body, raw (framing included)."""
        out = b""
        while True:
            ln = self.line()
            out += ln
            size = int(ln.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:          # trailers up to the blank line
                    t = self.line()
                    out += t
                    if t == b"\r\n":
                        return out
            out += self.exact(size + 2)

    def rest(self):
        out = self.buf
        self.buf = b""
        while True:
            data = self.sock.recv(CHUNK)
            if not data:
                return out
            out += data


class Message:
    """A parsed head: the first line, headers in order (names as sent) and
    the raw bytes."""
    def __init__(self, raw):
        self.raw = raw
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.first = lines[0]
        self.headers = []
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers.append((k.strip(), v.strip()))

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def with_header(self, name, value):
        """The raw head with one more header (others untouched)."""
        return self.raw[:-2] + f"{name}: {value}\r\n\r\n".encode("latin-1")


def body_of(reader, msg, is_request, method=None, status=None):
    """Reads the body of `msg`; returns (raw body, ends_connection)."""
    te = (msg.get("transfer-encoding") or "").lower()
    if not is_request and (method == "HEAD" or status in (204, 304) or
                           100 <= status < 200):
        return b"", False
    if "chunked" in te:
        return reader.chunked(), False
    cl = msg.get("content-length")
    if cl is not None:
        return reader.exact(int(cl)), False
    if is_request:
        return b"", False
    return reader.rest(), True


def s3_error(status, reason, code, message, extra=b"", headers=()):
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' +
            code.encode() + b"</Code><Message>" + message.encode() +
            b"</Message>" + extra + b"<RequestId>s3proxy</RequestId>"
            b"</Error>")
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n")
    for k, v in headers:
        head += f"{k}: {v}\r\n"
    return head.encode() + b"\r\n" + body


# ------------------------------------------------------------ SigV4 (oss mode)

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_request(method, host, path, ak, sk, region, extra=(), body=b"",
                 query=""):
    """Headers for a SigV4-signed request. `path` is already URI-encoded;
    `query` is "name=value&..." with encoded parts, sorted by the caller.
    Headers in `extra` are signed too."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    payload = hashlib.sha256(body).hexdigest()
    hdrs = {"host": host, "x-amz-date": amz, "x-amz-content-sha256": payload}
    hdrs.update({k.lower(): v for k, v in extra})
    names = sorted(hdrs)
    canon = "\n".join([method, path, query,
                       "".join(f"{n}:{hdrs[n]}\n" for n in names),
                       ";".join(names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + sk).encode(), day), region),
                      "s3"), "aws4_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                             f"SignedHeaders={';'.join(names)}, "
                             f"Signature={sig}")
    return hdrs


# ------------------------------------------------------------ fault / oss mode

VHOST = re.compile(r"^([a-z0-9][a-z0-9.-]*)\.localhost(:\d+)?$", re.I)
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class HttpProxy:
    def __init__(self, upstream, mode, port=0, keys=None, region="us-east-1",
                 require_region=None, tls=None):
        self.require_region = require_region
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.upstream = upstream
        self.mode = mode
        self.keys = keys
        self.region = region
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.armed = []
        self.log = []
        self.key_locks = {}
        self.control = None

    # -- control
    def arm(self, spec):
        f = spec.get("fault")
        if f not in ("503", "reset", "stall", "truncate", "late"):
            raise ValueError(f"unknown fault {f!r}")
        rule = {"method": spec.get("method", "*").upper(),
                "match": spec.get("match", ""),
                "fault": f, "count": int(spec.get("count", 1)),
                "seconds": float(spec.get("seconds", 120)),
                "after": float(spec.get("after", 0.2)),
                "forward": bool(spec.get("forward", f in ("reset",
                                                          "truncate")))}
        re.compile(rule["match"])
        with self.lock:
            self.armed.append(rule)

    def clear(self):
        with self.lock:
            self.armed.clear()
            self.log.clear()

    def _take_fault(self, method, target):
        with self.lock:
            for r in self.armed:
                if r["method"] in ("*", method) and \
                        re.search(r["match"], target):
                    r["count"] -= 1
                    if r["count"] <= 0:
                        self.armed.remove(r)
                    return dict(r)
        return None

    def _record(self, entry):
        with self.lock:
            entry["n"] = len(self.log)
            self.log.append(entry)
        return entry

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                b = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_GET(self):
                with proxy.lock:
                    if self.path == "/log":
                        return self._send(200, list(proxy.log))
                    if self.path == "/armed":
                        return self._send(200, list(proxy.armed))
                self._send(404, {"error": "no such path"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b"{}"
                try:
                    if self.path == "/arm":
                        proxy.arm(json.loads(body))
                    elif self.path == "/clear":
                        proxy.clear()
                    else:
                        return self._send(404, {"error": "no such path"})
                except (ValueError, re.error) as e:
                    return self._send(400, {"error": str(e)})
                self._send(200, {"ok": True})

        self.control = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.control.daemon_threads = True
        threading.Thread(target=self.control.serve_forever,
                         daemon=True).start()
        return self

    def stop(self):
        self.stopping.set()
        self.sock.close()
        if self.control:
            self.control.shutdown()
            self.control.server_close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _handshake(self, c):
        """The TLS server side of a new connection; None if the client
        gave up (a refused certificate is the client's business)."""
        c.settimeout(30)
        try:
            t = self.tls.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self._record({"method": None, "target": None, "host": None,
                          "status": None, "fault": None, "headers": {},
                          "tls_error": str(e)})
            c.close()
            return None
        t.settimeout(None)
        return t

    # -- one client connection, requests in turn
    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            c = self._handshake(c)
            if c is None:
                return
        state = {"up": None, "upr": None}
        rd = Reader(c)
        try:
            while not self.stopping.is_set():
                raw = rd.head()
                if raw is None:
                    break
                req = Message(raw)
                if (req.get("expect") or "").lower() == "100-continue":
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body, _ = body_of(rd, req, True)
                if not self._one(c, state, req, body):
                    break
        except (Closed, OSError, ValueError):
            pass
        finally:
            for s in (c, state["up"]):
                if s:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _forward(self, state, raw_head, body, method):
        """Sends a request upstream (reconnecting once if the kept
        connection was closed); returns (response Message, body, close)."""
        for attempt in (0, 1):
            if state["up"] is None:
                u = socket.create_connection(self.upstream)
                u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                state["up"], state["upr"] = u, Reader(u)
            try:
                state["up"].sendall(raw_head + body)
                while True:
                    h = state["upr"].head()
                    if h is None:
                        raise Closed()
                    resp = Message(h)
                    status = int(resp.first.split()[1])
                    if status >= 200 or status == 101:
                        break           # 100 Continue is skipped
                rbody, ends = body_of(state["upr"], resp, False, method,
                                      status)
                if ends or (resp.get("connection") or "").lower() == "close":
                    state["up"].close()
                    state["up"] = None
                return resp, status, rbody
            except (Closed, ConnectionError):
                if state["up"]:
                    state["up"].close()
                state["up"] = None
                if attempt:
                    raise
        raise Closed()

    def _one(self, c, state, req, body):
        """Handles one request; False ends the client connection."""
        method, target = req.first.split()[0], req.first.split()[1]
        entry = self._record({"method": method, "target": target,
                              "host": req.get("host"), "status": None,
                              "fault": None,
                              "headers": {k.lower(): v for k, v in
                                          req.headers
                                          if k.lower() != "authorization"}})
        scope = re.search(r"Credential=[^/]*/\d{8}/([^/]*)/s3/",
                          req.get("authorization") or "")
        if self.require_region and scope and \
                scope.group(1) != self.require_region:
            entry["status"] = 400
            c.sendall(s3_error(
                400, "Bad Request", "AuthorizationHeaderMalformed",
                f"the region '{scope.group(1)}' is wrong; expecting "
                f"'{self.require_region}'",
                f"<Region>{self.require_region}</Region>".encode()))
            return True
        fault = self._take_fault(method, target)
        if self.mode == "oss" and not fault:
            answer = self._oss(state, req, body, method, target, entry)
            if answer is not None:
                c.sendall(answer)
                return True
        if fault:
            entry["fault"] = fault["fault"]
            return self._fault(c, state, req, body, method, fault, entry)
        resp, status, rbody = self._forward(state, req.raw, body, method)
        entry["status"] = status
        c.sendall(resp.raw + rbody)
        return (resp.get("connection") or "").lower() != "close"

    def _fault(self, c, state, req, body, method, fault, entry):
        f = fault["fault"]
        resp = None
        if f == "late":
            c.settimeout(fault["seconds"])
            try:
                while c.recv(65536):	# until the client hangs up
                    pass
            except OSError:
                pass
            self.stopping.wait(fault["after"])
            resp, status, rbody = self._forward(state, req.raw, body, method)
            entry["upstream_status"] = status
            return False
        if fault["forward"] or f in ("reset", "truncate"):
            resp, status, rbody = self._forward(state, req.raw, body, method)
            entry["upstream_status"] = status
        if f == "503":
            entry["status"] = 503
            c.sendall(s3_error(503, "Slow Down", "SlowDown",
                               "Please reduce your request rate."))
            return True
        if f == "stall":
            self.stopping.wait(fault["seconds"])
            return False
        half = rbody[:len(rbody) // 2]
        if f == "reset":
            if half:
                c.sendall(resp.raw + half)
            _reset(c)
            return False
        # truncate: the head promises the whole body
        c.sendall(resp.raw + half)
        c.shutdown(socket.SHUT_WR)
        return False

    # -- OSS's answers
    def _key_lock(self, key):
        with self.lock:
            return self.key_locks.setdefault(key, threading.Lock())

    def _oss(self, state, req, body, method, target, entry):
        """OSS's own answer to `req`, or None to forward it as is."""
        host = req.get("host") or ""
        m = VHOST.match(host)
        if not m:
            entry["status"] = 403
            return s3_error(403, "Forbidden", "SecondLevelDomainForbidden",
                            "Please use virtual hosted style to access.")
        bucket = m.group(1)
        path = target.split("?")[0]
        query = target.partition("?")[2]
        forbid = (req.get("x-oss-forbid-overwrite") or "").lower() == "true"
        if method == "PUT" and req.get("if-none-match") is not None:
            entry["status"] = 501
            return s3_error(501, "Not Implemented", "NotImplemented",
                            "A header you provided implies functionality "
                            "that is not implemented.")
        is_put = method == "PUT" and "partNumber=" not in query and \
            req.get("x-amz-copy-source") is None
        is_complete = method == "POST" and "uploadId=" in query
        if forbid and (is_put or is_complete):
            with self._key_lock((bucket, path)):
                if self._exists(host, path):
                    entry["status"] = 409
                    return s3_error(409, "Conflict", "FileAlreadyExists",
                                    "The object you specified already "
                                    "exists and can not be overwritten.")
                raw = req.raw
                if is_put:      # unsigned: an upstream-atomic backstop
                    raw = req.with_header("If-None-Match", "*")
                resp, status, rbody = self._forward(state, raw, body, method)
                if status == 412:
                    entry["status"] = 409
                    return s3_error(409, "Conflict", "FileAlreadyExists",
                                    "The object you specified already "
                                    "exists and can not be overwritten.")
                entry["status"] = status
                return resp.raw + rbody
        rng = req.get("range")
        if method == "GET" and rng is not None and \
                (req.get("x-oss-range-behavior") or "").lower() != "standard":
            resp, status, rbody = self._forward(state, req.raw, body, method)
            whole = False
            mr = RANGE.match(rng.strip())
            if status == 416 or (status == 200 and not mr):
                whole = True
            elif status == 206:
                cr = re.match(r"bytes (\d+)-(\d+)/(\d+)",
                              resp.get("content-range") or "")
                if not mr or (cr and mr.group(2) and
                              int(mr.group(2)) >= int(cr.group(3))):
                    whole = True
            if not whole:
                entry["status"] = status
                return resp.raw + rbody
            entry["status"] = 200
            entry["oss_whole_object"] = True
            return self._whole(host, path)
        return None

    def _signed(self, method, host, path):
        if not self.keys:
            raise RuntimeError("oss mode needs --access-key/--secret-key")
        hdrs = sign_request(method, host, path, self.keys[0], self.keys[1],
                            self.region)
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(method, path, headers=hdrs)
            r = conn.getresponse()
            return r, r.read()
        finally:
            conn.close()

    def _exists(self, host, path):
        r, _ = self._signed("HEAD", host, path)
        return r.status == 200

    def _whole(self, host, path):
        r, data = self._signed("GET", host, path)
        if r.status != 200:
            return s3_error(r.status, r.reason, "ProxyError",
                            f"whole-object GET answered {r.status}")
        head = "HTTP/1.1 200 OK\r\n"
        for k in ("ETag", "Last-Modified", "Content-Type"):
            if r.getheader(k):
                head += f"{k}: {r.getheader(k)}\r\n"
        head += f"Content-Length: {len(data)}\r\n\r\n"
        return head.encode() + data


# ------------------------------------------------------------ control client

class Control:
    """Client of a running proxy's control port."""
    def __init__(self, port):
        self.port = port

    def _call(self, method, path, obj=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = json.dumps(obj).encode() if obj is not None else None
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = json.loads(r.read())
            if r.status != 200:
                raise RuntimeError(f"s3proxy {path}: {data}")
            return data
        finally:
            conn.close()

    def arm(self, fault, match="", method="*", count=1, **kw):
        return self._call("POST", "/arm", dict(fault=fault, match=match,
                                               method=method, count=count,
                                               **kw))

    def clear(self):
        return self._call("POST", "/clear", {})

    def log(self):
        return self._call("GET", "/log")

    def armed(self):
        return self._call("GET", "/armed")


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("latency", "fault", "oss"),
                    required=True)
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay-ms", type=float, default=5.0)
    ap.add_argument("--access-key")
    ap.add_argument("--secret-key")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--require-region")
    ap.add_argument("--tls-cert", help="serve https with this PEM certificate")
    ap.add_argument("--tls-key", help="the certificate's PEM private key")
    a = ap.parse_args()
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    tls = (a.tls_cert, a.tls_key) if a.tls_cert else None
    if tls and a.mode == "latency":
        ap.error("--tls-cert: fault and oss modes only")
    host, _, port = a.upstream.rpartition(":")
    upstream = (host or "127.0.0.1", int(port))
    if a.mode == "latency":
        p = LatencyProxy(upstream, a.delay_ms, a.port).start()
        ctl = None
    else:
        keys = (a.access_key, a.secret_key) if a.access_key else None
        if a.mode == "oss" and not keys:
            ap.error("oss mode needs --access-key and --secret-key")
        p = HttpProxy(upstream, a.mode, a.port, keys, a.region,
                      a.require_region, tls).start()
        ctl = p.control.server_address[1]
    print(json.dumps({"port": p.port, "control": ctl}), flush=True)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:      # the test that started us is gone
            break
    p.stop()


if __name__ == "__main__":
    sys.exit(main())
