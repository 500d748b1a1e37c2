#!/usr/bin/python3
"""The data side of tests/bench/s3.sh (Debian's python3 + python3-boto3).

    s3bench.py setup ENV_FILE TMP ROWS LANCEFS
        Makes a bucket s3test-bench-XXXX; LanceDB (tests/interop/s3tool.js
        bench) writes ROWS rows of ~100 KB JPEG-framed images to
        s3://BUCKET/db/images.lance; the dataset is copied to TMP/local
        and its lancefs view (a local mount, -o ro) to TMP/ext4, and that
        tree (NNNNNNNN/image.jpg + meta.json) is uploaded as plain objects
        under s3://BUCKET/plain/ for s3fs. Prints the bucket name.
    s3bench.py cleanup ENV_FILE BUCKET
        Deletes the bucket and everything in it.
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import s3util  # noqa: E402

INTEROP = os.path.join(HERE, "..", "interop")


def setup(env_file, tmp, rows, lancefs):
    env = s3util.load_env(env_file)
    s3 = s3util.client(env)
    b = s3util.new_bucket(s3, "s3test-bench")
    try:
        fill(s3, env, b, tmp, rows, lancefs)
    except BaseException:
        s3util.empty_bucket(s3, b)
        raise
    print(b)


def fill(s3, env, b, tmp, rows, lancefs):
    nenv = dict(os.environ, S3_ENDPOINT=env["S3_ENDPOINT"],
                S3_ACCESS_KEY=env["S3_ACCESS_KEY"],
                S3_SECRET_KEY=env["S3_SECRET_KEY"], S3_REGION=env["S3_REGION"])
    subprocess.run(["node", os.path.join(INTEROP, "s3tool.js"), "bench",
                    f"s3://{b}/db/images.lance", "--version", "2.0",
                    "--rows", str(rows)], cwd=INTEROP, env=nenv, check=True,
                   stdout=subprocess.DEVNULL)
    local = os.path.join(tmp, "local", "images.lance")
    s3util.mirror(s3, b, "db/images.lance/", local)
    mnt = tempfile.mkdtemp(dir=tmp)
    ext4 = os.path.join(tmp, "ext4")
    subprocess.run([lancefs, "mount", "-o", "ro", local, mnt], check=True)
    try:
        shutil.copytree(mnt, ext4)
    finally:
        subprocess.run([lancefs, "umount", mnt], check=True)
        os.rmdir(mnt)
    files = []
    for dirpath, _, names in os.walk(ext4):
        for n in names:
            p = os.path.join(dirpath, n)
            files.append((p, "plain/" + os.path.relpath(p, ext4)))
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda f: s3.upload_file(f[0], b, f[1]), files))


def cleanup(env_file, b):
    env = s3util.load_env(env_file)
    s3util.empty_bucket(s3util.client(env), b)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 4 and sys.argv[1] == "cleanup":
        cleanup(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
