#!/usr/bin/env bash
# Installs everything lancefs needs to build and test on Debian 12.
# Run as root (or with sudo). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential cmake pkg-config clang libclang-rt-14-dev \
	fuse3 libfuse3-dev libjansson-dev libzstd-dev liblz4-dev \
	libroaring-dev libprotobuf-c-dev protobuf-c-compiler \
	libcurl4-openssl-dev libssl-dev libexpat1-dev libjpeg62-turbo-dev \
	libturbojpeg0-dev zlib1g-dev libisal-dev liburing-dev \
	ca-certificates openssl git procps python3 python3-pil python3-torch \
	python3-torchvision python3-boto3 s3fs rsync strace
# A one-node radosgw is the real S3 server of the s3 tests
# (tests/harness/rgw.sh); curl probes it and uuidgen names the cluster.
apt-get install -y -q --no-install-recommends \
	radosgw ceph-mon ceph-osd ceph-common uuid-runtime curl
# Node.js runs the LanceDB oracle; keep a newer one if the machine has it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt-get install -y -q --no-install-recommends nodejs npm
fi
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
