"""Helpers the S3 tests and benchmarks share (Debian's python3, with
python3-boto3 for bucket setup): the server's settings from an ENV_FILE,
a boto3 client, buckets made and emptied per test, and s3proxy.py run as a
child process."""
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import s3proxy  # noqa: E402


def load_env(path=None):
    """S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (and S3_REGION) from a file
    of shell-style KEY=VALUE lines, else from the environment."""
    env = {}
    if path:
        with open(path) as f:
            for ln in f:
                m = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)="
                             r"(['\"]?)(.*?)\2\s*$", ln)
                if m:
                    env[m.group(1)] = m.group(3)
    for k in ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_REGION"):
        if k not in env and os.environ.get(k):
            env[k] = os.environ[k]
    missing = [k for k in ("S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY")
               if not env.get(k)]
    if missing:
        raise SystemExit(f"S3 settings missing: {', '.join(missing)} "
                         f"(ENV_FILE {path!r})")
    env.setdefault("S3_REGION", "us-east-1")
    return env


def host_port(endpoint):
    m = re.match(r"https?://([^/:]+):(\d+)", endpoint)
    if not m:
        raise ValueError(f"endpoint {endpoint!r}: expected http://HOST:PORT")
    return m.group(1), int(m.group(2))


def client(env, endpoint=None):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url=endpoint or env["S3_ENDPOINT"],
        aws_access_key_id=env["S3_ACCESS_KEY"],
        aws_secret_access_key=env["S3_SECRET_KEY"],
        region_name=env["S3_REGION"],
        config=Config(s3={"addressing_style": "path"},
                      retries={"max_attempts": 3},
                      connect_timeout=10, read_timeout=60))


def new_bucket(s3, prefix="s3test"):
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def empty_bucket(s3, bucket, delete=True):
    token = None
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 1000}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        keys = [{"Key": o["Key"]} for o in r.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys,
                                                     "Quiet": True})
        if not r.get("IsTruncated"):
            break
        token = r["NextContinuationToken"]
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"],
                                  UploadId=u["UploadId"])
    if delete:
        s3.delete_bucket(Bucket=bucket)


@contextlib.contextmanager
def bucket(s3, prefix="s3test"):
    name = new_bucket(s3, prefix)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            empty_bucket(s3, name)


def list_keys(s3, bucket, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def mirror(s3, bucket, prefix, dest):
    """Downloads every object under PREFIX to DEST (the same layout)."""
    n = 0
    for key in list_keys(s3, bucket, prefix):
        rel = key[len(prefix):].lstrip("/")
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        s3.download_file(bucket, key, path)
        n += 1
    return n


class Proxy:
    """s3proxy.py as a child process; stop() (or the with-block) ends it.
    tls=(CERT, KEY) makes it serve https (endpoint is then https://)."""
    def __init__(self, mode, env, delay_ms=None, require_region=None,
                 tls=None):
        host, port = host_port(env["S3_ENDPOINT"])
        args = [sys.executable, os.path.join(HERE, "s3proxy.py"),
                "--mode", mode, "--upstream", f"{host}:{port}"]
        if delay_ms is not None:
            args += ["--delay-ms", str(delay_ms)]
        if require_region:
            args += ["--require-region", require_region]
        if mode == "oss":
            args += ["--access-key", env["S3_ACCESS_KEY"],
                     "--secret-key", env["S3_SECRET_KEY"],
                     "--region", env["S3_REGION"]]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"s3proxy {mode} did not start "
                               f"(exit {self.proc.returncode})")
        info = json.loads(line)
        self.port = info["port"]
        self.ctl = s3proxy.Control(info["control"]) if info["control"] \
            else None
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:" \
            f"{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
