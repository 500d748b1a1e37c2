#!/bin/bash
# rgw.sh - a one-node Ceph cluster (mon + one memstore OSD + radosgw) on
# loopback, as a real S3 server for tests (research/s3.md §3).
#
#   rgw.sh start DIR [MON_PORT [RGW_PORT]]   start; print the endpoint
#   rgw.sh stop DIR                          stop what DIR's start began
#
# Ports come from the arguments, else RGW_MON_PORT / RGW_PORT, else 3320
# and 7520, so several clusters can run side by side (each needs its own
# DIR and ports). DIR/env gets S3_ENDPOINT, S3_VHOST_ENDPOINT (the same
# port under the name localhost, for bucket.localhost virtual hosts),
# S3_ACCESS_KEY and S3_SECRET_KEY: keys made fresh at every start. Needs
# root (the daemons), radosgw, ceph-mon, ceph-osd, ceph and uuidgen.
set -euo pipefail

die() { echo "rgw.sh: $*" >&2; exit 1; }

usage() { die "usage: rgw.sh start DIR [MON_PORT [RGW_PORT]] | stop DIR"; }

# Random letters and digits (keys are generated, never written down).
rand() {
	local s
	s=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc "$2")
	echo "${s:0:$1}"
}

pid_of() { [ -f "$D/run/$1.pid" ] && cat "$D/run/$1.pid" || true; }

# TERM, then KILL after a grace period: a radosgw whose mon died first
# hangs on shutdown.
stop_one() {
	local pid
	pid=$(pid_of "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null || true
}

stop() {
	[ -d "$D/run" ] || return 0
	stop_one client.rgw.a
	stop_one osd.0
	stop_one mon.a
	rm -f "$D/env"
}

write_conf() {
	cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon_initial_members = a
mon_host = v2:127.0.0.1:$MON_PORT
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# radosgw counts as a daemon and wants "secure" mode, which auth none
# cannot give: without crc it loops for 300 s
ms_mon_client_mode = crc secure
ms_client_mode = crc secure
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
ms_bind_ipv6 = false
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
pid_file = $D/run/\$name.pid
mon_data_avail_warn = 1
mon_data_avail_crit = 0
[mon]
mon_data = $D/mon/\$cluster-\$id
[osd]
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = ${RGW_MEMSTORE_BYTES:-4294967296}
osd_memory_target = 1073741824
[client.rgw.a]
# tcp_nodelay: without it small GETs stall on Nagle vs delayed ACK
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw_data = $D/rgw
rgw_dns_name = localhost
CONF
}

start() {
	[ "$(id -u)" = 0 ] || die "must run as root (ceph daemons)"
	for t in radosgw radosgw-admin ceph-mon ceph-osd ceph ceph-authtool \
		monmaptool uuidgen curl; do
		command -v "$t" >/dev/null || die "$t not installed (see contrib/setup-debian.sh)"
	done
	stop
	if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/"; then
		die "port $RGW_PORT already answers: pick another RGW port"
	fi
	rm -rf "$D"
	mkdir -p "$D"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
	FSID=$(uuidgen)
	write_conf
	local C="-c $D/ceph.conf"
	ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$FSID" \
		"$D/monmap" >/dev/null
	ceph-mon $C --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
	ceph-mon $C -i a 2>>"$D/log/start.log"
	local osd_uuid id
	osd_uuid=$(uuidgen)
	id=$(timeout 60 ceph $C osd new "$osd_uuid")
	ceph-osd $C -i "$id" --mkfs --osd-uuid "$osd_uuid" 2>>"$D/log/mkfs.log"
	ceph-osd $C -i "$id" 2>>"$D/log/start.log"
	radosgw $C -n client.rgw.a 2>>"$D/log/start.log"
	local up=
	for _ in $(seq 1 120); do
		if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/"; then
			up=1
			break
		fi
		sleep 1
	done
	[ -n "$up" ] || die "radosgw did not answer on port $RGW_PORT (logs in $D/log)"
	local ak sk
	ak=T$(rand 19 'A-Z0-9')
	sk=$(rand 40 'A-Za-z0-9')
	timeout 60 radosgw-admin $C user create --uid=test --display-name=test \
		--access-key="$ak" --secret-key="$sk" >/dev/null
	umask 077
	cat >"$D/env.tmp" <<ENV
S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
S3_VHOST_ENDPOINT=http://localhost:$RGW_PORT
S3_ACCESS_KEY=$ak
S3_SECRET_KEY=$sk
S3_MON_PORT=$MON_PORT
S3_RGW_PORT=$RGW_PORT
ENV
	mv "$D/env.tmp" "$D/env"
	echo "http://127.0.0.1:$RGW_PORT"
}

[ $# -ge 2 ] || usage
cmd=$1
D=$2
case "$D" in
/*) ;;
*) D=$PWD/$D ;;	# the daemons chdir("/")
esac
MON_PORT=${3:-${RGW_MON_PORT:-3320}}
RGW_PORT=${4:-${RGW_PORT:-7520}}
case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
