// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Peregrine collector probe.
 *
 * Attaches BTF raw tracepoints only (fentry, kprobes and LSM are not
 * available on every target kernel): sys_enter/sys_exit for syscalls and
 * sched_process_{exec,fork,exit} for process state, sched_switch to flush.
 * Records are written back to back into their CPU's batch buffer, which
 * goes to one ring buffer with one bpf_ringbuf_output when it holds
 * BATCH_FLUSH bytes, when its oldest record is BATCH_NS old, when the CPU
 * switches tasks and after every sched_process_* record. A ring write
 * (reserve lock, positions the reader writes from another CPU, commit)
 * cost ~70 ns a record here, a third of an open's exit record; per batch
 * it is paid once for ~150 records. Wakeups are batched too: a flush
 * forces a wakeup only when more than wakeup_bytes are pending; the reader
 * polls on a short deadline for the rest.
 *
 * Order: records of one CPU keep their order. A thread's records never
 * overtake each other, as a thread leaves a CPU only through sched_switch,
 * which flushes it; a fork is flushed before the child can run. Records of
 * different CPUs interleave by batch, as Falco's per-CPU buffers do.
 *
 * The other cost is the pointer chases of the process context, so the
 * context goes out only when it may have changed (see rec_ctx in record.h;
 * a per-task key of the objects it is read from, in task storage).
 *
 * Syscall arguments are taken from pt_regs at sys_exit (x86_64 keeps them
 * there), and user memory is read at exit too: the pages of a path are
 * faulted in by then, while at sys_enter they are sometimes not. The open
 * family, whose enter events Falco also reports, reads its path at entry;
 * the exit reads it again only when that read was not whole.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "record.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

/* interest map value bits */
#define INT_EXIT 1
#define INT_ENTER 2

/* drops map slots */
#define DROP_RINGBUF 0 /* records lost with a batch the ring had no room for */
#define DROP_COMPAT 1 /* 32-bit syscalls, not decoded (other numbering) */
#define DROP_MAX 2

#define TS_COMPAT_ 0x0002 /* x86 thread_info.status: in a 32-bit syscall */

/* Record layout: items start below OFF_LIM and hold at most ITEM_MAX
 * bytes, so every write stays below OFF_LIM + 4 + ITEM_MAX. */
#define ITEM_MAX 4096
#define OFF_LIM 16384
#define REC_ROOM (OFF_LIM + 4 + ITEM_MAX + 4)

/* A batch starts its next record below BATCH_FLUSH (a power of two: the
 * offset is masked for the verifier), so it needs BATCH_FLUSH + REC_ROOM. */
#define BATCH_FLUSH (16 << 10)
#define BATCH_NS (2 * 1000 * 1000)
#define BATCH_SZ (BATCH_FLUSH + REC_ROOM)

#define DATA_MAX 80 /* snaplen of send/recv data, as Falco's default */
#define SOCKADDR_MAX 128
#define KNAME_MAX 256
#define CGROUP_DEPTH 8

#define FMODE_CREATED_BIT 0x100000
#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} interest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Bumped whenever a batch is lost: the contexts it carried never reached
 * user space, so every task sends its context again (see task_key). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_epoch SEC(".maps");

/* What a task's last sent context was read from: when all of it is
 * unchanged, so is the context. A zero key never matches a live task.
 * A freed cred can come back at the same address with other ids (two
 * changes with no record in between, e.g. by calls outside the capture
 * set), so the ids and effective caps are compared too. */
struct task_key {
	__u64 cred;
	__u64 uids; /* uid | euid << 32 */
	__u64 gids; /* gid | egid << 32 */
	__u64 cap_eff;
	__u64 nsproxy;
	__u64 cgroups;
	__u64 parent;
	__u64 thread_pid;
	__u64 sid;
	__u64 pgid;
	__u64 tty;
	__u64 comm[2];
	__u64 loginuid;
	__u64 epoch; /* lost_epoch when sent */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_key);
} sent_ctx SEC(".maps");

/* The enter event of the syscall running on this CPU, waiting for its
 * exit (see struct rec_enter): nr is the syscall, 0 when none waits, tid
 * the thread. Per CPU rather than per task (a per-CPU slot is an inlined
 * lookup, task storage ~15 ns), so a thread that leaves the CPU inside the
 * call takes it along as a record of its own (sched_switch spills it);
 * its exit then has none to fold. Paths longer than ENTER_CAP go out as a
 * record of their own at once. */
#define ENTER_CAP 512
#define ENTER_ROOM (ENTER_CAP + 32) /* a path, then open_how's item */
struct enter_save {
	__u32 nr;
	__u32 tid;
	struct rec_enter e; /* the items follow it: one copy moves both */
	__u8 items[ENTER_ROOM];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct enter_save);
} pending_enter SEC(".maps");

static __always_inline struct enter_save *pending(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pending_enter, &zero);
}

/* One per CPU, indexed by CPU number: a per-CPU array's values are
 * limited to 32 KiB. Only the CPU's own programs touch it, and they never
 * run concurrently (syscall and sched tracepoints run with preemption off,
 * never in interrupts). len is the bytes of the records so far (each
 * padded to 8), n their number, first_ts the time of the first. */
struct batch {
	__u32 len;
	__u32 n;
	__u64 first_ts;
	/* The task running here and its last sent context key, while it
	 * stays on the CPU (cleared at each switch): a hit spares the
	 * task-storage lookup (~10 ns) of a thread making call after call. */
	__u64 ctx_task;
	struct task_key ctx_key;
	__u8 buf[BATCH_SZ];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs at load */
	__type(key, __u32);
	__type(value, struct batch);
} batches SEC(".maps");

/* Set from user space before load. */
const volatile __u64 wakeup_bytes = 256 << 10;
const volatile __u32 self_tgid = 0;
/* Kernels before 6.15 (or so) refuse bpf_rdonly_cast to btf id 0:
 * user space loads again with 0 here, and the verifier prunes the branch. */
const volatile __u8 fd_array_cast = 1;

/* Pre-6.18 kernfs_node names its parent "parent". */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* writer of one record at the end of a batch */
struct wr {
	struct batch *b;
	__u8 *buf; /* the record's first byte */
	__u32 off;
	__u32 n;
};

static __always_inline __u8 *item_at(struct wr *w)
{
	__u32 off = w->off;

	if (off >= OFF_LIM)
		return NULL;
	barrier_var(off);
	off &= (OFF_LIM - 1);
	return w->buf + off;
}

static __always_inline void item_hdr(__u8 *it, __u8 type, __u8 flags,
				     __u64 len)
{
	it[0] = type;
	it[1] = flags;
	it[2] = len & 0xff;
	it[3] = (len >> 8) & 0xff;
}

static __always_inline void item_done(struct wr *w, __u8 *it, __u8 type,
				      __u8 flags, __u64 len)
{
	item_hdr(it, type, flags, len);
	w->off += 4 + (__u32)len;
	w->n++;
}

/* ustr_at reads a user string into it's data (size bytes of room, NUL
 * included) and returns its length without the NUL; a string that filled
 * the room gets IF_TRUNC. */
static __always_inline long ustr_at(__u8 *it, const void *p, __u32 size,
				    __u8 *flags)
{
	long r = 0;

	*flags = 0;
	if (p)
		r = bpf_probe_read_user_str(it + 4, size, p);
	else
		*flags = IF_FAULT;
	if (r < 0) {
		*flags = IF_FAULT;
		r = 0;
	} else if (r > 0) {
		r--; /* drop the NUL */
		if (r == size - 1)
			*flags |= IF_TRUNC;
	}
	return r;
}

/* ubytes_at reads min(len, max) user bytes (at most room) into it's data
 * and writes the item header; it returns the data length. */
static __always_inline __u64 ubytes_at(__u8 *it, __u8 type, const void *p,
				       __u64 len, __u64 max, __u64 room)
{
	__u8 flags = 0;
	__u64 l = len;

	if (l > max) {
		l = max;
		flags |= IF_TRUNC;
	}
	barrier_var(l);
	if (l > room)
		l = room;
	if (!p)
		l = 0;
	if (l && bpf_probe_read_user(it + 4, l, p) < 0) {
		flags |= IF_FAULT;
		l = 0;
	}
	item_hdr(it, type, flags, l);
	return l;
}

static __always_inline void put_ustr(struct wr *w, __u8 type, const void *p)
{
	__u8 *it = item_at(w);
	__u8 flags;
	long r;

	if (!it)
		return;
	r = ustr_at(it, p, ITEM_MAX, &flags);
	item_done(w, it, type, flags, r);
}

static __always_inline void put_kstr(struct wr *w, __u8 type, const void *p,
				     __u32 max)
{
	__u8 *it = item_at(w);
	__u8 flags = 0;
	long r = 0;

	if (!it)
		return;
	if (max > ITEM_MAX)
		max = ITEM_MAX;
	if (p)
		r = bpf_probe_read_kernel_str(it + 4, max, p);
	if (r < 0) {
		flags = IF_FAULT;
		r = 0;
	} else if (r > 0) {
		r--;
	}
	item_done(w, it, type, flags, r);
}

static __always_inline void put_ubytes(struct wr *w, __u8 type, const void *p,
				       __u64 len, __u64 max)
{
	__u8 *it = item_at(w);

	if (!it)
		return;
	w->off += 4 + (__u32)ubytes_at(it, type, p, len, max, ITEM_MAX);
	w->n++;
}

static __always_inline void drop(__u32 slot, __u64 n)
{
	__u64 *d = bpf_map_lookup_elem(&drops, &slot);

	if (d)
		*d += n;
}

static __always_inline __u64 epoch_now(void)
{
	__u32 zero = 0;
	__u64 *e = bpf_map_lookup_elem(&lost_epoch, &zero);

	return e ? *e : 0;
}

/* flush writes the CPU's batch to the ring as one sample. */
static __always_inline void flush(struct batch *b)
{
	__u64 len = b->len;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 zero = 0;
	__u64 *e;

	if (!len)
		return;
	barrier_var(len);
	if (len > BATCH_SZ)
		len = BATCH_SZ;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + len >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, b->buf, len, flags)) {
		drop(DROP_RINGBUF, b->n);
		e = bpf_map_lookup_elem(&lost_epoch, &zero);
		if (e)
			__sync_fetch_and_add(e, 1);
	}
	b->len = 0;
	b->n = 0;
}

/* flush_cpu flushes the current CPU's batch. */
static __always_inline void flush_cpu(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct batch *b = bpf_map_lookup_elem(&batches, &cpu);

	if (b)
		flush(b);
}

/* emit adds the record to its batch, flushing the batch when it is full
 * or old enough. It returns 0 (a lost batch is handled in flush). */
static __always_inline long emit(struct wr *w)
{
	struct rec_hdr *h = (void *)w->buf;
	struct batch *b = w->b;

	h->size = w->off;
	h->nitems = w->n;
	if (!b->n)
		b->first_ts = h->ts;
	b->len += (w->off + 7) & ~7u;
	b->n++;
	if (b->len >= BATCH_FLUSH || h->ts - b->first_ts >= BATCH_NS)
		flush(b);
	return 0;
}

/* The number of p in the pid namespace at lvl, with that namespace. Direct
 * (BTF) loads with constant indices only: the verifier walks the flexible
 * array numbers[] at a fixed offset but refuses a variable one. */
static __always_inline int pid_at(struct pid *p, __u32 lvl,
				  struct pid_namespace **ns)
{
	if (!p)
		return 0;
	switch (lvl) {
	case 0:
		*ns = p->numbers[0].ns;
		return p->numbers[0].nr;
	case 1:
		*ns = p->numbers[1].ns;
		return p->numbers[1].nr;
	case 2:
		*ns = p->numbers[2].ns;
		return p->numbers[2].nr;
	case 3:
		*ns = p->numbers[3].ns;
		return p->numbers[3].nr;
	default:
		return 0;
	}
}

static __always_inline __u64 ns_id_of(struct ns_common *ns)
{
	if (bpf_core_field_exists(ns->ns_id))
		return ns->ns_id;
	return 0;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___old *old = (void *)kn;

	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ(old, parent);
}

static __always_inline struct cgroup *memcg_of(struct task_struct *t)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css;

	if (id < 0 || id >= CGROUP_SUBSYS_COUNT)
		return NULL;
	css = t->cgroups->subsys[id];
	if (!css)
		return NULL;
	return css->cgroup;
}

static __always_inline void fill_hdr(struct rec_hdr *h, __u16 kind, __u16 nr)
{
	__u64 pt = bpf_get_current_pid_tgid();

	h->kind = kind;
	h->nr = nr;
	h->ts = bpf_ktime_get_boot_ns();
	h->cpu = bpf_get_smp_processor_id();
	h->pid = pt >> 32;
	h->tid = (__u32)pt;
}

/* fill_ctx reads the task with direct BTF loads (PROBE_MEM, a few ns each)
 * rather than bpf_probe_read_kernel calls. Every field is written. */
static __always_inline void fill_ctx(struct rec_ctx *h, struct task_struct *t)
{
	struct pid_namespace *pidns = NULL, *dummy = NULL;
	const struct cred *c;
	struct nsproxy *nsp;
	struct signal_struct *sig;
	struct tty_struct *tty;
	struct cgroup *mcg;
	struct pid *tp;
	__u32 lvl;

	__builtin_memset(h, 0, sizeof(*h));
	h->ppid = t->real_parent->tgid;

	c = t->cred;
	h->uid = c->uid.val;
	h->gid = c->gid.val;
	h->euid = c->euid.val;
	h->egid = c->egid.val;
	h->cap_eff = c->cap_effective.val;
	h->cap_prm = c->cap_permitted.val;
	h->cap_inh = c->cap_inheritable.val;
	h->loginuid = t->loginuid.val;
	/* comm and the v2 cgroup id by direct loads rather than helpers */
	*(__u64 *)&h->comm[0] = *(__u64 *)&t->comm[0];
	*(__u64 *)&h->comm[8] = *(__u64 *)&t->comm[8];

	h->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	mcg = memcg_of(t);
	if (mcg)
		h->memcg_id = mcg->kn->id;

	/* namespaces: pid mnt net user uts ipc cgroup */
	tp = t->thread_pid;
	lvl = tp->level;
	h->vtid = pid_at(tp, lvl, &pidns);
	if (pidns) {
		h->ns_inum[0] = pidns->ns.inum;
		h->ns_id[0] = ns_id_of(&pidns->ns);
	}
	nsp = t->nsproxy;
	if (nsp) {
		h->ns_inum[1] = nsp->mnt_ns->ns.inum;
		h->ns_id[1] = ns_id_of(&nsp->mnt_ns->ns);
		h->ns_inum[2] = nsp->net_ns->ns.inum;
		h->ns_id[2] = ns_id_of(&nsp->net_ns->ns);
		h->ns_inum[4] = nsp->uts_ns->ns.inum;
		h->ns_id[4] = ns_id_of(&nsp->uts_ns->ns);
		h->ns_inum[5] = nsp->ipc_ns->ns.inum;
		h->ns_id[5] = ns_id_of(&nsp->ipc_ns->ns);
		h->ns_inum[6] = nsp->cgroup_ns->ns.inum;
		h->ns_id[6] = ns_id_of(&nsp->cgroup_ns->ns);
	}
	h->ns_inum[3] = c->user_ns->ns.inum;
	h->ns_id[3] = ns_id_of(&c->user_ns->ns);

	sig = t->signal;
	h->vpid = pid_at(sig->pids[PIDTYPE_TGID], lvl, &dummy);
	h->sid = pid_at(sig->pids[PIDTYPE_SID], 0, &dummy);
	h->pgid = pid_at(sig->pids[PIDTYPE_PGID], 0, &dummy);
	h->vpgid = pid_at(sig->pids[PIDTYPE_PGID], lvl, &dummy);
	tty = sig->tty;
	if (tty) {
		__u32 major = tty->driver->major;
		__u32 minor = tty->driver->minor_start + tty->index;

		h->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	}
}

/* bpf_rdonly_cast turns a pointer read as a number back into a typed BTF
 * pointer the program may walk with direct loads; the verifier inlines it. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* fd_file returns the file of fd in t, as a BTF pointer (direct loads are
 * a few ns each, a bpf_probe_read_kernel call costs far more). The
 * verifier refuses variable offsets into BTF pointers, so the fd array is
 * cast to untyped memory (btf id 0), where it allows them; where that
 * cast is refused, the slot is read with a helper. */
static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt;
	struct file *f;
	__u8 *arr;

	if (fd < 0)
		return NULL;
	fdt = t->files->fdt;
	if (!fdt || (__u64)fd >= fdt->max_fds)
		return NULL;
	if (fd_array_cast) {
		arr = bpf_rdonly_cast(fdt->fd, 0);
		f = *(struct file **)(arr + (__u64)fd * 8);
	} else {
		f = NULL;
		bpf_probe_read_kernel(&f, sizeof(f),
				      (void *)((__u64)fdt->fd + (__u64)fd * 8));
	}
	if (!f)
		return NULL;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

static __always_inline void put_file(struct wr *w, struct task_struct *t,
				     long fd)
{
	struct file *f = fd_file(t, fd);
	struct inode *ino;
	struct item_file *fi;
	__u8 *it;

	if (!f)
		return;
	it = item_at(w);
	if (!it)
		return;
	fi = (void *)(it + 4);
	ino = f->f_inode;
	fi->ino = ino->i_ino;
	fi->dev = ino->i_sb->s_dev;
	fi->fmode = f->f_mode;
	fi->imode = ino->i_mode;
	fi->nlink = ino->__i_nlink;
	item_done(w, it, IT_FILE, 0, sizeof(*fi));
}

static __always_inline void put_sock(struct wr *w, struct task_struct *t,
				     long fd)
{
	struct file *f = fd_file(t, fd);
	struct socket *so;
	struct sock *sk;
	struct item_sock *si;
	__u16 fam;
	__u8 *it;

	if (!f)
		return;
	if ((f->f_inode->i_mode & S_IFMT_) != S_IFSOCK_)
		return;
	so = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	sk = so->sk;
	if (!sk)
		return;
	it = item_at(w);
	if (!it)
		return;
	si = (void *)(it + 4);
	fam = sk->__sk_common.skc_family;
	si->family = fam;
	si->type = sk->sk_type;
	si->proto = sk->sk_protocol;
	si->state = sk->__sk_common.skc_state;
	si->lport = sk->__sk_common.skc_num;
	si->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	si->sk = (__u64)sk;
	si->peer = 0;
	__builtin_memset(si->laddr, 0, 32);
	if (fam == 2 /* AF_INET */) {
		*(__u32 *)si->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)si->raddr = sk->__sk_common.skc_daddr;
	} else if (fam == 10 /* AF_INET6 */) {
		bpf_core_read(si->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(si->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else if (fam == 1 /* AF_UNIX */) {
		struct unix_sock *us = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct unix_sock));
		struct unix_sock *peer = bpf_rdonly_cast(us->peer, bpf_core_type_id_kernel(struct unix_sock));
		struct unix_address *ua;

		si->peer = (__u64)peer;
		ua = us->addr;
		if (!ua && peer)
			ua = peer->addr;
		item_done(w, it, IT_SOCK, 0, sizeof(*si));
		if (ua) {
			int alen = ua->len;
			__u8 *p = item_at(w);
			__u64 l;

			if (!p)
				return;
			/* name is a sockaddr_un: skip sun_family */
			l = alen > 2 ? alen - 2 : 0;
			barrier_var(l);
			if (l > 108)
				l = 108;
			if (l && bpf_probe_read_kernel(
					 p + 4, l,
					 (void *)((__u64)ua +
						  bpf_core_field_offset(
							  struct unix_address,
							  name) +
						  2)) < 0)
				l = 0;
			item_done(w, p, IT_UNIXPATH, 0, l);
		}
		return;
	}
	item_done(w, it, IT_SOCK, 0, sizeof(*si));
}

/* sendmsg/recvmsg: address and the first iovec of the user msghdr */
static __always_inline void put_msghdr(struct wr *w, const void *umsg,
				       long ret)
{
	struct user_msghdr m = {};
	struct iovec iov = {};

	if (!umsg || bpf_probe_read_user(&m, sizeof(m), umsg) < 0) {
		put_ubytes(w, IT_BYTES, NULL, 0, 0);
		put_ubytes(w, IT_SOCKADDR, NULL, 0, 0);
		return;
	}
	if (m.msg_iov && m.msg_iovlen > 0)
		bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov);
	put_ubytes(w, IT_BYTES, iov.iov_base,
		   ret > 0 ? (ret < (long)iov.iov_len ? ret : iov.iov_len) : 0,
		   DATA_MAX);
	put_ubytes(w, IT_SOCKADDR, m.msg_name, m.msg_namelen, SOCKADDR_MAX);
}

/* writer_hdr starts a record at the end of the CPU's batch; the header
 * is zeroed unless whole says the caller writes every field of it (the
 * syscall exit path: clearing 88 bytes first cost ~35 ns a record). A
 * record not emitted is overwritten by the next one. */
static __always_inline struct wr *writer_hdr(struct wr *w, int whole)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct batch *b = bpf_map_lookup_elem(&batches, &cpu);
	__u32 off;

	if (!b)
		return NULL;
	off = b->len; /* below BATCH_FLUSH: emit flushes at it */
	barrier_var(off);
	off &= BATCH_FLUSH - 1;
	w->b = b;
	w->buf = b->buf + off;
	if (whole)
		((struct rec_hdr *)w->buf)->flags = 0;
	else
		__builtin_memset(w->buf, 0, sizeof(struct rec_hdr));
	w->off = sizeof(struct rec_hdr);
	w->n = 0;
	return w;
}

static __always_inline struct wr *writer(struct wr *w)
{
	return writer_hdr(w, 0);
}

/* put_ctx appends the context block; the writer must be fresh. */
static __always_inline void put_ctx(struct wr *w, struct task_struct *t)
{
	struct rec_hdr *h = (void *)w->buf;

	fill_ctx((void *)(w->buf + sizeof(struct rec_hdr)), t);
	h->flags |= RF_CTX;
	w->off += sizeof(struct rec_ctx);
}

static __always_inline void key_of(struct task_key *k, struct task_struct *t)
{
	struct signal_struct *sig = t->signal;
	const struct cred *c = t->cred;

	k->cred = (__u64)c;
	k->uids = c->uid.val | (__u64)c->euid.val << 32;
	k->gids = c->gid.val | (__u64)c->egid.val << 32;
	k->cap_eff = c->cap_effective.val;
	k->nsproxy = (__u64)t->nsproxy;
	k->cgroups = (__u64)t->cgroups;
	k->parent = (__u64)t->real_parent;
	k->thread_pid = (__u64)t->thread_pid;
	k->sid = (__u64)sig->pids[PIDTYPE_SID];
	k->pgid = (__u64)sig->pids[PIDTYPE_PGID];
	k->tty = (__u64)sig->tty;
	k->comm[0] = *(__u64 *)&t->comm[0];
	k->comm[1] = *(__u64 *)&t->comm[8];
	k->loginuid = t->loginuid.val;
	k->epoch = epoch_now();
}

/* ctx_begin adds the context block unless t's last sent context is still
 * current. It returns the task's storage slot to update with k once the
 * record is written (NULL: nothing to update). Updating only after a
 * successful write means a record the ring dropped never leaves user
 * space without the context. */
/* Comparisons, not XORs: the verifier allows no arithmetic on the
 * pointers (it does allow root to compare and store them). */
static __always_inline int same_key(const struct task_key *s,
				    const struct task_key *k)
{
	return s->cred == k->cred && s->uids == k->uids &&
	       s->gids == k->gids && s->cap_eff == k->cap_eff &&
	       s->nsproxy == k->nsproxy &&
	       s->cgroups == k->cgroups && s->parent == k->parent &&
	       s->thread_pid == k->thread_pid && s->sid == k->sid &&
	       s->pgid == k->pgid && s->tty == k->tty &&
	       s->comm[0] == k->comm[0] && s->comm[1] == k->comm[1] &&
	       s->loginuid == k->loginuid && s->epoch == k->epoch;
}

static __always_inline struct task_key *ctx_begin(struct wr *w,
						  struct task_struct *t,
						  struct task_key *k)
{
	struct batch *b = w->b;
	struct task_key *s;

	key_of(k, t);
	if (b->ctx_task == (__u64)t && same_key(&b->ctx_key, k))
		return NULL;
	s = bpf_task_storage_get(&sent_ctx, t, NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s && same_key(s, k)) {
		b->ctx_task = (__u64)t;
		b->ctx_key = *k;
		return NULL;
	}
	put_ctx(w, t);
	return s;
}

/* ctx_sent records k as t's last sent context, its record being in the
 * batch now (slot from ctx_begin; NULL: nothing to record). */
static __always_inline void ctx_sent(struct wr *w, struct task_struct *t,
				     struct task_key *slot, struct task_key *k)
{
	if (!slot)
		return;
	*slot = *k;
	w->b->ctx_task = (__u64)t;
	w->b->ctx_key = *k;
}

/* ctx_forget makes t, the current task, send the context with its next
 * record. */
static __always_inline void ctx_forget(struct task_struct *t)
{
	struct task_key *s = bpf_task_storage_get(&sent_ctx, t, NULL, 0);
	__u32 cpu = bpf_get_smp_processor_id();
	struct batch *b = bpf_map_lookup_elem(&batches, &cpu);

	if (s)
		s->cred = 0;
	if (b)
		b->ctx_task = 0;
}

/* interest_of is nr's interest bits (INT_EXIT, INT_ENTER). */
static __always_inline __u32 interest_of(__u32 nr)
{
	__u32 *f;

	if (nr >= SYS_MAX)
		return 0;
	f = bpf_map_lookup_elem(&interest, &nr);
	return f ? *f : 0;
}

/* Enter events exist for the calls Falco also reports on entry (open
 * family and connect, its TOCTOU mitigation). */
static __always_inline void put_enter_items(struct wr *w, __u32 nr, __u64 *a)
{
	switch (nr) {
	case SYS_open:
	case SYS_creat:
		put_ustr(w, IT_STR, (void *)a[0]);
		break;
	case SYS_openat:
		put_ustr(w, IT_STR, (void *)a[1]);
		break;
	case SYS_openat2:
		put_ustr(w, IT_STR, (void *)a[1]);
		put_ubytes(w, IT_BYTES, (void *)a[2], a[3], 24);
		break;
	case SYS_connect:
		put_ubytes(w, IT_SOCKADDR, (void *)a[1], a[2], SOCKADDR_MAX);
		break;
	default:
		break;
	}
}

/* emit_enter writes a REC_SYS_ENTER record of its own: for an enter whose
 * items do not fit the pending slot, or whose exit is not captured. */
static __always_inline void emit_enter(struct task_struct *t, __u32 nr,
				       __u64 *a)
{
	struct task_key k, *slot;
	struct rec_hdr *h;
	struct wr w;

	if (!writer(&w))
		return;
	h = (void *)w.buf;
	fill_hdr(h, REC_SYS_ENTER, nr);
	slot = ctx_begin(&w, t, &k);
	h->args[0] = a[0];
	h->args[1] = a[1];
	h->args[2] = a[2];
	h->args[3] = a[3];
	put_enter_items(&w, nr, a);
	emit(&w);
	ctx_sent(&w, t, slot, &k);
}

/* put_enter folds the thread's waiting enter event for nr into the exit
 * record being written: the block must come right after the context. It
 * returns 1 when the block's first item is a string read whole (no fault,
 * not empty), which the exit may use as its own path (RF_PATH_ENTER). */
static __always_inline int put_enter(struct wr *w, __u32 nr)
{
	struct enter_save *s = pending();
	struct rec_hdr *h = (void *)w->buf;
	__u32 off = w->off;
	__u64 len;

	if (!s || s->nr != nr || s->tid != h->tid)
		return 0;
	s->nr = 0;
	len = s->e.size;
	barrier_var(len);
	if (len < sizeof(struct rec_enter) ||
	    len > sizeof(struct rec_enter) + ENTER_ROOM || off >= OFF_LIM)
		return 0;
	barrier_var(off);
	off &= (OFF_LIM - 1);
	/* one copy of header and items: they sit together in enter_save */
	if (bpf_probe_read_kernel(w->buf + off, len, &s->e) < 0)
		return 0;
	w->off += (__u32)len;
	h->flags |= RF_ENTER;
	return s->e.nitems && s->items[0] == IT_STR && !s->items[1] &&
	       (s->items[2] || s->items[3]);
}

/* put_path adds the open family's path item, or reuses the folded
 * enter's: the pages of a path read whole at entry were present, and its
 * second read costs ~16 ns an open here. */
static __always_inline void put_path(struct wr *w, __u32 nr, const void *p)
{
	if (put_enter(w, nr))
		((struct rec_hdr *)w->buf)->flags |= RF_PATH_ENTER;
	else
		put_ustr(w, IT_STR, p);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_key k, *slot;
	struct task_struct *t;
	struct rec_hdr *h;
	struct wr w;
	__u64 a[6];
	__u32 nr;

	nr = (__u32)regs->orig_ax; /* direct load: this runs for every syscall */
	t = bpf_get_current_task_btf();
	if (t->thread_info.status & TS_COMPAT_) {
		/* ia32 numbers mean other syscalls: count, never misdecode */
		drop(DROP_COMPAT, 1);
		return 0;
	}
	if (!(interest_of(nr) & INT_EXIT))
		return 0;
	if (t->tgid == self_tgid) /* a direct load, cheaper than the helper */
		return 0;
	if (!writer_hdr(&w, 1))
		return 0;
	h = (void *)w.buf;
	fill_hdr(h, REC_SYS_EXIT, nr);
	slot = ctx_begin(&w, t, &k);
	h->ret = ret;
	if ((nr == SYS_execve || nr == SYS_execveat) && ret == 0) {
		/* the registers belong to the new image now */
		__builtin_memset(a, 0, sizeof(a));
	} else {
		a[0] = regs->di;
		a[1] = regs->si;
		a[2] = regs->dx;
		a[3] = regs->r10;
		a[4] = regs->r8;
		a[5] = regs->r9;
	}
	h->args[0] = a[0];
	h->args[1] = a[1];
	h->args[2] = a[2];
	h->args[3] = a[3];
	h->args[4] = a[4];
	h->args[5] = a[5];

	switch (nr) {
	case SYS_open:
	case SYS_creat:
		put_path(&w, nr, (void *)a[0]);
		put_file(&w, t, ret);
		break;
	case SYS_openat:
		put_path(&w, nr, (void *)a[1]);
		put_file(&w, t, ret);
		break;
	case SYS_openat2:
		put_path(&w, nr, (void *)a[1]);
		put_ubytes(&w, IT_BYTES, (void *)a[2], a[3], 24);
		put_file(&w, t, ret);
		break;
	case SYS_execve:
		if (ret != 0)
			put_ustr(&w, IT_STR, (void *)a[0]);
		break;
	case SYS_execveat:
		if (ret != 0)
			put_ustr(&w, IT_STR, (void *)a[1]);
		break;
	case SYS_connect:
		put_enter(&w, nr);
		put_ubytes(&w, IT_SOCKADDR, (void *)a[1], a[2], SOCKADDR_MAX);
		put_sock(&w, t, a[0]);
		break;
	case SYS_bind:
		put_ubytes(&w, IT_SOCKADDR, (void *)a[1], a[2], SOCKADDR_MAX);
		put_sock(&w, t, a[0]);
		break;
	case SYS_listen:
		put_sock(&w, t, a[0]);
		break;
	case SYS_socket:
		put_sock(&w, t, ret);
		break;
	case SYS_accept:
	case SYS_accept4:
		put_sock(&w, t, ret);
		break;
	case SYS_sendto:
		put_ubytes(&w, IT_BYTES, (void *)a[1], ret > 0 ? ret : 0,
			   DATA_MAX);
		put_ubytes(&w, IT_SOCKADDR, (void *)a[4], a[5], SOCKADDR_MAX);
		put_sock(&w, t, a[0]);
		break;
	case SYS_recvfrom: {
		__u32 alen = 0;

		put_ubytes(&w, IT_BYTES, (void *)a[1], ret > 0 ? ret : 0,
			   DATA_MAX);
		if (a[4] && a[5])
			bpf_probe_read_user(&alen, sizeof(alen), (void *)a[5]);
		put_ubytes(&w, IT_SOCKADDR, (void *)a[4], alen, SOCKADDR_MAX);
		put_sock(&w, t, a[0]);
		break;
	}
	case SYS_sendmsg:
	case SYS_recvmsg:
		put_msghdr(&w, (void *)a[1], ret);
		put_sock(&w, t, a[0]);
		break;
	case SYS_symlink:
	case SYS_link:
	case SYS_rename:
		put_ustr(&w, IT_STR, (void *)a[0]);
		put_ustr(&w, IT_STR, (void *)a[1]);
		break;
	case SYS_symlinkat:
		put_ustr(&w, IT_STR, (void *)a[0]);
		put_ustr(&w, IT_STR, (void *)a[2]);
		break;
	case SYS_linkat:
	case SYS_renameat:
	case SYS_renameat2:
		put_ustr(&w, IT_STR, (void *)a[1]);
		put_ustr(&w, IT_STR, (void *)a[3]);
		break;
	case SYS_unlink:
	case SYS_rmdir:
	case SYS_mkdir:
	case SYS_chmod:
	case SYS_chdir:
	case SYS_memfd_create:
	case SYS_chroot:
		put_ustr(&w, IT_STR, (void *)a[0]);
		break;
	case SYS_unlinkat:
	case SYS_mkdirat:
	case SYS_fchmodat:
	case SYS_fchmodat2:
	case SYS_finit_module:
		put_ustr(&w, IT_STR, (void *)a[1]);
		break;
	case SYS_init_module:
		put_ustr(&w, IT_STR, (void *)a[2]);
		break;
	case SYS_pipe:
	case SYS_pipe2:
		put_ubytes(&w, IT_BYTES, (void *)a[0], ret == 0 ? 8 : 0, 8);
		break;
	case SYS_socketpair:
		put_ubytes(&w, IT_BYTES, (void *)a[3], ret == 0 ? 8 : 0, 8);
		break;
	case SYS_mount:
		put_ustr(&w, IT_STR, (void *)a[0]);
		put_ustr(&w, IT_STR, (void *)a[1]);
		put_ustr(&w, IT_STR, (void *)a[2]);
		break;
	case SYS_umount2:
		put_ustr(&w, IT_STR, (void *)a[0]);
		break;
	default:
		break;
	}
	emit(&w);
	ctx_sent(&w, t, slot, &k);
	return 0;
}

/* save_ustr writes a string item at it, in task storage. It returns the
 * item's size, or -1 when the string may not fit. */
static __always_inline long save_ustr(__u8 *it, const void *p)
{
	__u8 flags;
	long r = ustr_at(it, p, ENTER_CAP - 4, &flags);

	if (flags & IF_TRUNC)
		return -1;
	item_hdr(it, IT_STR, flags, r);
	return 4 + r;
}

/* save_ubytes writes a bytes item of at most max bytes at it. */
static __always_inline long save_ubytes(__u8 *it, __u8 type, const void *p,
					__u64 len, __u64 max)
{
	return 4 + ubytes_at(it, type, p, len, max, SOCKADDR_MAX);
}

/* At sys_enter the probe reads what Falco's enter event carries straight
 * into task storage; sys_exit sends it with the exit record. That saves
 * a ring write and a context check per call, at the price of the enter
 * event reaching user space when the call returns. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct enter_save *s;
	struct task_struct *t;
	__u64 a[4], off;
	long n = 0, n2 = 0;
	__u16 nitems = 1;
	__u32 nr = (__u32)id;
	__u32 in = interest_of(nr);

	if (!(in & INT_ENTER))
		return 0;
	t = bpf_get_current_task_btf();
	if (t->thread_info.status & TS_COMPAT_)
		return 0; /* counted at sys_exit */
	if (t->tgid == self_tgid)
		return 0;
	a[0] = regs->di;
	a[1] = regs->si;
	a[2] = regs->dx;
	a[3] = regs->r10;
	s = pending();
	if (!s || !(in & INT_EXIT)) {
		emit_enter(t, nr, a);
		return 0;
	}
	/* One left waiting has lost its exit (the capture set changed in
	 * between): it is overwritten. */
	s->nr = 0;
	switch (nr) {
	case SYS_open:
	case SYS_creat:
		n = save_ustr(s->items, (void *)a[0]);
		break;
	case SYS_openat:
		n = save_ustr(s->items, (void *)a[1]);
		break;
	case SYS_openat2:
		n = save_ustr(s->items, (void *)a[1]);
		off = n;
		barrier_var(off);
		if (n < 0 || off > ENTER_CAP)
			break;
		n2 = save_ubytes(s->items + off, IT_BYTES, (void *)a[2], a[3], 24);
		nitems = 2;
		break;
	case SYS_connect:
		n = save_ubytes(s->items, IT_SOCKADDR, (void *)a[1], a[2], SOCKADDR_MAX);
		break;
	default:
		nitems = 0;
		break;
	}
	if (n < 0) {
		emit_enter(t, nr, a);
		return 0;
	}
	s->e.ts = bpf_ktime_get_boot_ns();
	s->e.args[0] = a[0];
	s->e.args[1] = a[1];
	s->e.args[2] = a[2];
	s->e.args[3] = a[3];
	s->e.cpu = bpf_get_smp_processor_id();
	s->e.nitems = nitems;
	s->e.size = sizeof(struct rec_enter) + n + n2;
	s->tid = t->pid;
	s->nr = nr;
	return 0;
}

/* spill sends the CPU's waiting enter event as a record of its own when
 * its thread t, the current task, leaves the CPU (or exits) inside the
 * call: the exit, wherever it runs, finds none to fold. */
static __always_inline void spill(struct task_struct *t)
{
	struct enter_save *s = pending();
	struct task_key k, *slot;
	struct rec_hdr *h;
	struct wr w;
	__u32 off;
	__u64 len;

	if (!s || !s->nr)
		return;
	if (s->tid != t->pid || !writer(&w)) {
		s->nr = 0;
		return;
	}
	h = (void *)w.buf;
	h->kind = REC_SYS_ENTER;
	h->nr = s->nr;
	h->ts = s->e.ts;
	h->cpu = s->e.cpu;
	h->pid = t->tgid;
	h->tid = s->tid;
	h->args[0] = s->e.args[0];
	h->args[1] = s->e.args[1];
	h->args[2] = s->e.args[2];
	h->args[3] = s->e.args[3];
	s->nr = 0;
	slot = ctx_begin(&w, t, &k);
	len = s->e.size - sizeof(struct rec_enter);
	off = w.off;
	barrier_var(len);
	if (len > ENTER_ROOM || off >= OFF_LIM)
		return;
	barrier_var(off);
	off &= (OFF_LIM - 1);
	if (len && bpf_probe_read_kernel(w.buf + off, len, s->items) < 0)
		return;
	w.off += (__u32)len;
	w.n = s->e.nitems;
	emit(&w);
	ctx_sent(&w, t, slot, &k);
}

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

/* put_exe sends what Falco's execve exit carries of the image's inode:
 * its times and whether it lives in an overlayfs upper layer (written in
 * the container) or only in a lower one (the image). */
static __always_inline void put_exe(struct wr *w, struct inode *ino)
{
	struct item_exe *xi;
	__u8 *it = item_at(w);

	if (!it)
		return;
	xi = (void *)(it + 4);
	xi->ctime_ns = 0;
	xi->mtime_ns = 0;
	xi->flags = 0;
	xi->_pad = 0;
	if (bpf_core_field_exists(ino->i_ctime_sec)) {
		xi->ctime_ns = BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_ctime_nsec);
		xi->mtime_ns = BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_mtime_nsec);
	}
	if (BPF_CORE_READ(ino, i_sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
		/* the overlay inode embeds the vfs inode */
		struct ovl_inode *oi = (void *)((char *)ino - bpf_core_field_offset(struct ovl_inode, vfs_inode));

		xi->flags = BPF_CORE_READ(oi, __upperdentry) ? EXE_UPPER_LAYER : EXE_LOWER_LAYER;
	}
	item_done(w, it, IT_EXE, 0, sizeof(*xi));
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct kernfs_node *kn = NULL;
	struct cgroup *mcg;
	struct mm_struct *mm;
	struct rec_hdr *h;
	struct wr w;
	__u64 s, e;

	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	if (!writer(&w))
		return 0;
	h = (void *)w.buf;
	fill_hdr(h, REC_EXEC, 0);
	put_ctx(&w, p);
	/* the image changed: the next syscall record carries the context
	 * again (comm and creds were just replaced; with a non-leader exec
	 * the tid too) */
	ctx_forget(p);
	h->ret = 0;
	__builtin_memset(h->args, 0, sizeof(h->args));
	h->args[0] = old_pid;

	put_kstr(&w, IT_STR, BPF_CORE_READ(bprm, filename), ITEM_MAX);
	put_kstr(&w, IT_STR, BPF_CORE_READ(bprm, interp), ITEM_MAX);
	mm = BPF_CORE_READ(p, mm);
	s = BPF_CORE_READ(mm, arg_start);
	e = BPF_CORE_READ(mm, arg_end);
	put_ubytes(&w, IT_ARGV, (void *)s, e > s ? e - s : 0, ITEM_MAX);
	s = BPF_CORE_READ(mm, env_start);
	e = BPF_CORE_READ(mm, env_end);
	put_ubytes(&w, IT_ENV, (void *)s, e > s ? e - s : 0, ITEM_MAX);

	{
		struct file *f = BPF_CORE_READ(bprm, file);
		struct inode *ino = BPF_CORE_READ(f, f_inode);
		__u8 *it = item_at(&w);

		if (it) {
			struct item_file *fi = (void *)(it + 4);

			fi->ino = BPF_CORE_READ(ino, i_ino);
			fi->dev = BPF_CORE_READ(ino, i_sb, s_dev);
			fi->fmode = BPF_CORE_READ(f, f_mode);
			fi->imode = BPF_CORE_READ(ino, i_mode);
			fi->nlink = BPF_CORE_READ(ino, __i_nlink);
			item_done(&w, it, IT_FILE, 0, sizeof(*fi));
		}
		put_exe(&w, ino);
	}

	mcg = memcg_of(p);
	if (mcg)
		kn = BPF_CORE_READ(mcg, kn);
#pragma unroll
	for (int i = 0; i < CGROUP_DEPTH; i++) {
		struct kernfs_node *parent;

		if (!kn)
			break;
		parent = kn_parent(kn);
		if (!parent)
			break; /* the root has no name worth sending */
		put_kstr(&w, IT_CGROUP, BPF_CORE_READ(kn, name), KNAME_MAX);
		kn = parent;
	}
	emit(&w);
	flush_cpu();
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_fork, struct task_struct *parent, struct task_struct *child)
{
	struct item_fork *fk;
	struct rec_hdr *h;
	struct wr w;
	__u8 *it;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a thread: the process table tracks processes */
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	if (!writer(&w))
		return 0;
	h = (void *)w.buf;
	fill_hdr(h, REC_FORK, 0);
	put_ctx(&w, bpf_get_current_task_btf());
	h->ret = 0;
	__builtin_memset(h->args, 0, sizeof(h->args));
	it = item_at(&w);
	if (it) {
		fk = (void *)(it + 4);
		fk->child_pid = BPF_CORE_READ(child, tgid);
		fk->child_tid = BPF_CORE_READ(child, pid);
		{
			struct pid *cp = child->thread_pid;
			struct pid_namespace *cns = NULL;

			fk->child_vpid = pid_at(cp, cp->level, &cns);
		}
		fk->flags = BPF_CORE_READ(child, flags);
		fk->start_ns = BPF_CORE_READ(child, start_boottime);
		item_done(&w, it, IT_FORK, 0, sizeof(*fk));
	}
	emit(&w);
	/* before the child can run, maybe on another CPU */
	flush_cpu();
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p, bool group_dead)
{
	struct item_exit *ex;
	struct rec_hdr *h;
	struct wr w;
	__u8 *it;

	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	spill(p); /* an enter event comes before its thread's exit */
	if (!group_dead) {
		/* a thread user space knows a context of: let it forget it */
		if (!bpf_task_storage_get(&sent_ctx, p, NULL, 0))
			return 0;
		if (!writer(&w))
			return 0;
		h = (void *)w.buf;
		fill_hdr(h, REC_THREAD_EXIT, 0);
		emit(&w);
		flush_cpu();
		return 0;
	}
	if (!writer(&w))
		return 0;
	h = (void *)w.buf;
	fill_hdr(h, REC_EXIT, 0);
	put_ctx(&w, p);
	h->ret = 0;
	__builtin_memset(h->args, 0, sizeof(h->args));
	it = item_at(&w);
	if (it) {
		ex = (void *)(it + 4);
		ex->code = BPF_CORE_READ(p, exit_code);
		ex->_pad = 0;
		item_done(&w, it, IT_EXIT, 0, sizeof(*ex));
	}
	emit(&w);
	flush_cpu();
	return 0;
}

/* A thread leaves the CPU only through here: flushing keeps its records
 * ahead of those it writes on its next CPU, and sends what an idle CPU
 * holds. */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct batch *b;

	spill(prev);
	b = bpf_map_lookup_elem(&batches, &cpu);
	if (b) {
		b->ctx_task = 0;
		flush(b);
	}
	return 0;
}
