/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Wire format of the records the probe writes to the ring buffer. The Go
 * decoder (services/collector/internal/record) mirrors this layout byte for
 * byte; change both together and bump REC_VERSION.
 *
 * A ring buffer sample is a batch of one CPU's records, back to back, each
 * padded to 8 bytes (hdr.size is the unpadded size).
 *
 * A record is a fixed rec_hdr, a rec_ctx when hdr.flags has RF_CTX, a
 * rec_enter block when hdr.flags has RF_ENTER, then hdr.nitems items. Each item is
 * { u8 type; u8 flags; u16 len; u8 data[len]; } with no padding, so the
 * kernel writes only the bytes it really read. Which item means what is
 * decided by (kind, nr); items of one record come in a fixed order.
 */
#ifndef PEREGRINE_RECORD_H
#define PEREGRINE_RECORD_H

#define REC_VERSION 4

enum rec_kind {
	REC_SYS_EXIT = 1,  /* syscall exit: nr, ret, args */
	REC_SYS_ENTER = 2, /* syscall enter (open family, connect): nr, args */
	REC_EXEC = 3,      /* sched_process_exec: new image */
	REC_FORK = 4,      /* sched_process_fork: new process (not thread) */
	REC_EXIT = 5,      /* sched_process_exit with group_dead */
	REC_THREAD_EXIT = 6, /* sched_process_exit of another thread whose
			      * context was sent: user space forgets it */
};

enum item_type {
	IT_STR = 1,      /* user or kernel string, no NUL */
	IT_SOCKADDR = 2, /* raw struct sockaddr_* as passed by the caller */
	IT_SOCK = 3,     /* struct item_sock: kernel socket of an fd */
	IT_FILE = 4,     /* struct item_file: kernel file of an fd */
	IT_BYTES = 5,    /* raw user bytes (data buffer, open_how, pipe fds) */
	IT_ARGV = 6,     /* NUL separated argv as in mm->arg_start */
	IT_ENV = 7,      /* NUL separated environ as in mm->env_start */
	IT_CGROUP = 8,   /* one memory cgroup path component, leaf first */
	IT_FORK = 9,     /* struct item_fork */
	IT_EXIT = 10,    /* struct item_exit */
	IT_UNIXPATH = 11,/* sun_path of the unix socket (own, else peer) */
	IT_EXE = 12,     /* struct item_exe: the new image's inode times and layer, at exec */
};

/* item flags */
#define IF_FAULT 1     /* the read failed (page not present, bad pointer) */
#define IF_TRUNC 2     /* data was cut at the item limit */

/* rec_hdr.flags */
#define RF_CTX 1 /* a struct rec_ctx follows the header */
#define RF_ENTER 2 /* a struct rec_enter (with its items) follows */
/* The exit's path is the enter block's first item, read whole at entry
 * (where the kernel copies it too, so it is what the call used): the
 * exit's own path item is left out and user space reuses the enter's. */
#define RF_PATH_ENTER 4

/*
 * The process context (creds, ids, caps, cgroups, namespaces, comm) is
 * sent only when it may have changed: on a task's first record, after
 * exec, when one of the kernel objects it is read from was replaced
 * (creds and nsproxy are copied on write, a cgroup move swaps the
 * css_set), and on every sched record. A record without RF_CTX has the
 * same context as the last one of its tid that had it.
 */
struct rec_hdr {
	__u16 kind;
	__u16 nr; /* syscall number (x86_64), 0 for sched records */
	__u32 size; /* whole record, header included */
	__u64 ts; /* bpf_ktime_get_boot_ns */
	__s64 ret;
	__u64 args[6];
	__u32 cpu;
	__u32 pid; /* tgid */
	__u32 tid;
	__u16 nitems;
	__u16 flags;
};

struct rec_ctx {
	__u32 ppid; /* real_parent->tgid */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 vpid;
	__u32 vtid;
	__u32 sid;
	__u32 pgid;
	__u32 vpgid;
	__u32 tty; /* Falco encoding */
	__u64 cap_eff;
	__u64 cap_prm;
	__u64 cap_inh;
	__u64 cgroup_id; /* v2 (default hierarchy) */
	__u64 memcg_id;  /* kernfs id of the memory controller's cgroup */
	/* pid mnt net user uts ipc cgroup */
	__u32 ns_inum[7];
	__u32 _pad;
	__u64 ns_id[7]; /* ns_common.ns_id, 0 where the kernel lacks it */
	char comm[16];
};

/*
 * The enter event of a syscall exit record (open family, connect), folded
 * into it: the probe keeps what sys_enter read in task storage and writes
 * one record at sys_exit instead of two. User space emits the enter event
 * from this block just before the exit event. The block's items follow it
 * (size bytes in all, the block header included), laid out as the items
 * of a REC_SYS_ENTER record.
 */
struct rec_enter {
	__u64 ts;
	__u64 args[4];
	__u32 cpu;
	__u16 nitems;
	__u16 size;
};

struct item_sock {
	__u16 family;
	__u16 type;
	__u16 proto;
	__u16 lport; /* host order */
	__u16 rport; /* host order */
	__u16 state;
	__u8 laddr[16];
	__u8 raddr[16];
	__u32 _pad; /* the compiler would add it; spelled out for the Go decoder */
	__u64 sk;   /* kernel address of the sock, for unix fd names */
	__u64 peer; /* unix peer sock */
};

struct item_file {
	__u64 ino;
	__u32 dev;
	__u32 fmode;
	__u32 imode;
	__u32 nlink;
};

/* item_exe flags, Falco's PPM_EXE_* bits */
#define EXE_UPPER_LAYER (1 << 1) /* in an overlayfs upper layer: written after the mount */
#define EXE_LOWER_LAYER (1 << 3) /* in an overlayfs lower layer only */

struct item_exe {
	__u64 ctime_ns; /* inode change time, ns since the epoch; 0 unknown */
	__u64 mtime_ns; /* inode modification time */
	__u32 flags;    /* EXE_* */
	__u32 _pad;
};

struct item_fork {
	__u32 child_pid;
	__u32 child_tid;
	__u32 child_vpid;
	__u32 flags;
	__u64 start_ns; /* child start_boottime */
};

struct item_exit {
	__s32 code;
	__u32 _pad;
};

#endif
