/*
 * transport.h - the FUSE connection options every lancefs mount asks
 * for, shared with tests/bench/discard.c so that the ceiling it measures
 * is that of the same transport. Include after <fuse_lowlevel.h>.
 */
#ifndef LANCEFS_TRANSPORT_H
#define LANCEFS_TRANSPORT_H

/* Listings with attributes, always (a walk stats what it lists, so that
 * saves a lookup per entry); lookups in one folder in parallel; reads
 * answered in any order. */
static inline void transport_want(struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
}

#endif
