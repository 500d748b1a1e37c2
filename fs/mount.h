#ifndef LANCEFS_MOUNT_H
#define LANCEFS_MOUNT_H
/* lancefs mount [-f] [-d] [-o OPTS] SOURCE MOUNTPOINT */
int lancefs_mount_main(int argc, char **argv);
/* mount.lancefs SOURCE MOUNTPOINT [-o OPTS], and `lancefs SOURCE MOUNTPOINT
 * -o OPTS` as mount.fuse3 runs it */
int lancefs_mount_helper(int argc, char **argv);
/* lancefs umount MOUNTPOINT: commit, unmount, wait for the daemon */
int lancefs_umount_main(int argc, char **argv);
/* lancefs commit MOUNTPOINT */
int lancefs_commit_main(int argc, char **argv);
/* lancefs warmup [--wait] MOUNTPOINT: fill cache_dir= with the current
 * version's data files */
int lancefs_warmup_main(int argc, char **argv);
/* lancefs status [--json] MOUNTPOINT */
int lancefs_status_main(int argc, char **argv);
#endif
