#!/usr/bin/python3
"""Tests of s3proxy.py against a real S3 server (RGW).

    s3proxy_selftest.py [ENV_FILE]

ENV_FILE holds S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (else they come
from the environment). Each test makes its own bucket. Ends with
"N passed, M failed"; exit 1 on any failure; ONLY=substring picks tests.
"""
import concurrent.futures
import hashlib
import http.client
import os
import socket
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3util  # noqa: E402
from s3proxy import sign_request  # noqa: E402

ENV = s3util.load_env(sys.argv[1] if len(sys.argv) > 1 else None)
S3 = s3util.client(ENV)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def raw(port, method, host, path, body=b"", headers=(), timeout=30,
        keys=None, query=""):
    """A SigV4-signed request sent to 127.0.0.1:port with the given Host
    (every header in `headers` is signed). Returns (status, headers, body)
    or raises what http.client raises."""
    ak, sk = keys or (ENV["S3_ACCESS_KEY"], ENV["S3_SECRET_KEY"])
    hdrs = sign_request(method, host, path, ak, sk, ENV["S3_REGION"],
                        extra=headers, body=body, query=query)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path + (f"?{query}" if query else ""),
                     body=body or None, headers=hdrs)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def payload(n, seed):
    out = bytearray()
    x = seed
    while len(out) < n:
        x = hashlib.sha256(x.to_bytes(8, "little") + bytes(out[-32:])) \
            .digest()
        out += x
        x = int.from_bytes(x[:8], "little")
    return bytes(out[:n])


# ------------------------------------------------------------ latency

def test_latency_delays_each_way_and_keeps_parallelism():
    d = 100
    with s3util.bucket(S3) as b, s3util.Proxy("latency", ENV, d) as p:
        objs = {f"o{i}": payload(100_000, i) for i in range(8)}
        for k, v in objs.items():
            S3.put_object(Bucket=b, Key=k, Body=v)
        host = f"127.0.0.1:{p.port}"
        t0 = time.monotonic()
        st, _, body = raw(p.port, "GET", host, f"/{b}/o0")
        one = time.monotonic() - t0
        expect(st == 200 and body == objs["o0"], f"GET o0 {st}")
        # handshake (2d) + request (d) + answer (d)
        expect(one >= 4 * d / 1000 * 0.95, f"one GET took {one:.3f} s, "
               f"less than four {d} ms delays")
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda k: raw(p.port, "GET", host, f"/{b}/{k}"),
                              objs))
        par = time.monotonic() - t0
        for (st, _, body), (k, v) in zip(got, objs.items()):
            expect(st == 200 and body == v, f"GET {k}: {st}, bytes differ")
        expect(par < 8 * one / 2, f"8 parallel GETs took {par:.3f} s, one "
               f"took {one:.3f} s: the proxy serialises")
        # a body of many chunks pays the delay once, not once per chunk
        big = payload(8 * 1024 * 1024, 99)
        S3.put_object(Bucket=b, Key="big", Body=big)
        t0 = time.monotonic()
        st, _, body = raw(p.port, "GET", host, f"/{b}/big")
        took = time.monotonic() - t0
        expect(st == 200 and body == big, "8 MiB GET")
        expect(took < one + 1.5, f"8 MiB GET took {took:.3f} s, 100 KB took "
               f"{one:.3f} s: chunks wait for each other")


def test_latency_large_bodies_both_ways():
    with s3util.bucket(S3) as b, s3util.Proxy("latency", ENV, 5) as p:
        big = payload(9 * 1024 * 1024, 7)
        via = s3util.client(ENV, p.endpoint)
        via.put_object(Bucket=b, Key="big", Body=big)
        expect(S3.get_object(Bucket=b, Key="big")["Body"].read() == big,
               "PUT through the proxy changed the bytes")
        got = via.get_object(Bucket=b, Key="big")["Body"].read()
        expect(got == big, "GET through the proxy changed the bytes")


# ------------------------------------------------------------ fault

def test_fault_passes_signatures_and_logs():
    with s3util.bucket(S3) as b, s3util.Proxy("fault", ENV) as p:
        via = s3util.client(ENV, p.endpoint)
        via.put_object(Bucket=b, Key="k", Body=b"hello")
        expect(via.get_object(Bucket=b, Key="k")["Body"].read() == b"hello",
               "round trip")
        st, _, body = raw(p.port, "GET", f"127.0.0.1:{p.port}", f"/{b}/k",
                          keys=(ENV["S3_ACCESS_KEY"], "wrong-secret"))
        expect(st == 403 and b"SignatureDoesNotMatch" in body,
               f"a wrong secret through the proxy: {st} {body[:200]!r}")
        log = p.ctl.log()
        expect([(e["method"], e["status"]) for e in log if
                e["target"].startswith(f"/{b}/k")] ==
               [("PUT", 200), ("GET", 200), ("GET", 403)],
               f"log: {[(e['method'], e['target'], e['status']) for e in log]}")


def test_fault_require_region():
    with s3util.bucket(S3) as b, \
            s3util.Proxy("fault", ENV, require_region="eu-central-1") as p:
        host = f"127.0.0.1:{p.port}"
        st, _, body = raw(p.port, "GET", host, f"/{b}", query="list-type=2")
        expect(st == 400 and b"AuthorizationHeaderMalformed" in body and
               b"<Region>eu-central-1</Region>" in body,
               f"scope region {ENV['S3_REGION']}: {st} {body[:200]!r}")
        env = dict(ENV, S3_REGION="eu-central-1")
        via = s3util.client(env, p.endpoint)
        via.put_object(Bucket=b, Key="k", Body=b"k")
        expect(via.get_object(Bucket=b, Key="k")["Body"].read() == b"k",
               "the right region passes")


def test_fault_503_is_retried_by_boto3():
    with s3util.bucket(S3) as b, s3util.Proxy("fault", ENV) as p:
        S3.put_object(Bucket=b, Key="data/x", Body=b"x" * 1000)
        p.ctl.arm("503", match=r"/data/x$", method="GET", count=2)
        via = s3util.client(ENV, p.endpoint)
        got = via.get_object(Bucket=b, Key="data/x")["Body"].read()
        expect(got == b"x" * 1000, "bytes after retries")
        gets = [e for e in p.ctl.log() if e["method"] == "GET"]
        expect([e["status"] for e in gets] == [503, 503, 200],
               f"statuses {[e['status'] for e in gets]}")
        expect(all("upstream_status" not in e for e in gets[:2]),
               "a 503 was forwarded")
        expect(p.ctl.armed() == [], "armed fault left after its count")


def test_fault_reset_and_truncate_mid_body():
    with s3util.bucket(S3) as b, s3util.Proxy("fault", ENV) as p:
        data = payload(300_000, 3)
        S3.put_object(Bucket=b, Key="f", Body=data)
        host = f"127.0.0.1:{p.port}"
        for fault in ("reset", "truncate"):
            p.ctl.arm(fault, match=r"/f$", method="GET")
            try:
                st, _, body = raw(p.port, "GET", host, f"/{b}/f")
                raise AssertionError(f"{fault}: read {len(body)} bytes, "
                                     f"status {st}")
            except (http.client.IncompleteRead, ConnectionResetError) as e:
                if fault == "truncate":
                    expect(isinstance(e, http.client.IncompleteRead),
                           f"truncate raised {e!r}")
                    expect(0 < len(e.partial) < len(data),
                           f"truncate sent {len(e.partial)} bytes")
            st, _, body = raw(p.port, "GET", host, f"/{b}/f")
            expect(st == 200 and body == data, f"after {fault}: {st}")
        log = [e for e in p.ctl.log() if e["method"] == "GET"]
        expect([e["fault"] for e in log] == ["reset", None, "truncate", None],
               f"log {[e['fault'] for e in log]}")


def test_fault_stall_past_timeout_and_forwarded_put():
    with s3util.bucket(S3) as b, s3util.Proxy("fault", ENV) as p:
        host = f"127.0.0.1:{p.port}"
        S3.put_object(Bucket=b, Key="s", Body=b"s")
        p.ctl.arm("stall", match=r"/s$", method="GET", seconds=5)
        t0 = time.monotonic()
        try:
            raw(p.port, "GET", host, f"/{b}/s", timeout=1)
            raise AssertionError("a stalled GET answered")
        except (socket.timeout, TimeoutError):
            pass
        expect(time.monotonic() - t0 < 4, "the client timeout did not fire")
        st, _, body = raw(p.port, "GET", host, f"/{b}/s")
        expect(st == 200 and body == b"s", "GET after a stall")
        # forward=True: the PUT lands although its answer never comes
        p.ctl.arm("stall", match=r"/p$", method="PUT", seconds=5,
                  forward=True)
        try:
            raw(p.port, "PUT", host, f"/{b}/p", body=b"landed", timeout=1)
            raise AssertionError("a stalled PUT answered")
        except (socket.timeout, TimeoutError):
            pass
        got = S3.get_object(Bucket=b, Key="p")["Body"].read()
        expect(got == b"landed", f"forwarded PUT stored {got!r}")


def test_fault_arm_rejects_bad_specs():
    with s3util.Proxy("fault", ENV) as p:
        for bad in ({"fault": "explode"}, {"fault": "503", "match": "("}):
            try:
                p.ctl._call("POST", "/arm", bad)
                raise AssertionError(f"armed {bad}")
            except RuntimeError:
                pass


# ------------------------------------------------------------ oss

def test_oss_addressing_and_conditional_put():
    with s3util.bucket(S3) as b, s3util.Proxy("oss", ENV) as p:
        S3.put_object(Bucket=b, Key="a", Body=b"aaa")
        vhost = f"{b}.localhost:{p.port}"
        st, _, body = raw(p.port, "GET", f"127.0.0.1:{p.port}", f"/{b}/a")
        expect(st == 403 and b"SecondLevelDomainForbidden" in body,
               f"path-style: {st} {body[:200]!r}")
        st, _, body = raw(p.port, "GET", vhost, "/a")
        expect(st == 200 and body == b"aaa", f"virtual-hosted GET: {st}")
        st, _, body = raw(p.port, "PUT", vhost, "/n", body=b"n",
                          headers=[("If-None-Match", "*")])
        expect(st == 501 and b"NotImplemented" in body, f"If-None-Match {st}")
        expect("n" not in s3util.list_keys(S3, b), "the 501 PUT landed")
        fo = [("x-oss-forbid-overwrite", "true")]
        st, _, _ = raw(p.port, "PUT", vhost, "/m", body=b"first", headers=fo)
        expect(st == 200, f"first forbid-overwrite PUT: {st}")
        st, _, body = raw(p.port, "PUT", vhost, "/m", body=b"second",
                          headers=fo)
        expect(st == 409 and b"FileAlreadyExists" in body,
               f"second forbid-overwrite PUT: {st} {body[:200]!r}")
        st, _, _ = raw(p.port, "PUT", vhost, "/m", body=b"third")
        expect(st == 200, "a plain PUT overwrites")
        expect(S3.get_object(Bucket=b, Key="m")["Body"].read() == b"third",
               "plain overwrite")


def test_oss_racing_creates_have_one_winner():
    with s3util.bucket(S3) as b, s3util.Proxy("oss", ENV) as p:
        vhost = f"{b}.localhost:{p.port}"
        fo = [("x-oss-forbid-overwrite", "true")]
        for k in range(8):
            go = threading.Barrier(3)
            res = {}

            def put(who):
                go.wait()
                res[who] = raw(p.port, "PUT", vhost, f"/r{k}",
                               body=f"writer {who}".encode(), headers=fo)[0]
            ts = [threading.Thread(target=put, args=(w,)) for w in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            won = [w for w, st in res.items() if st == 200]
            expect(len(won) == 1 and
                   sorted(st for st in res.values()) == [200, 409, 409],
                   f"key r{k}: {res}")
            got = S3.get_object(Bucket=b, Key=f"r{k}")["Body"].read()
            expect(got == f"writer {won[0]}".encode(), f"r{k} holds {got!r}")


def test_oss_range_behaviour():
    with s3util.bucket(S3) as b, s3util.Proxy("oss", ENV) as p:
        data = payload(1000, 9)
        S3.put_object(Bucket=b, Key="r", Body=data)
        vhost = f"{b}.localhost:{p.port}"
        std = [("x-oss-range-behavior", "standard")]
        cases = [("bytes=10-19", [], 206, data[10:20]),
                 ("bytes=0-1000", [], 200, data),
                 ("bytes=2000-2100", [], 200, data),
                 ("bytes=0-1000", std, 206, data),
                 ("bytes=990-5000", std, 206, data[990:]),
                 ("bytes=2000-2100", std, 416, None)]
        for rng, extra, want, wbody in cases:
            st, hdrs, body = raw(p.port, "GET", vhost, "/r",
                                 headers=[("Range", rng)] + extra)
            expect(st == want, f"{rng} {extra}: status {st}, expected {want}")
            if wbody is not None:
                expect(body == wbody, f"{rng} {extra}: {len(body)} bytes")
            if st == 206:
                expect(hdrs.get("Content-Range", "").startswith(
                    f"bytes {rng[6:].split('-')[0]}-"),
                    f"{rng}: Content-Range {hdrs.get('Content-Range')}")


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    only = os.environ.get("ONLY")
    passed = failed = 0
    for t in TESTS:
        if only and only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t()
            passed += 1
            print(f"PASS {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__} ({time.time() - t0:.1f} s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
