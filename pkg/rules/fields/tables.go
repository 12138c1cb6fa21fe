package fields

import (
	"strconv"
	"strings"

	"github.com/peregrine-rt/peregrine/pkg/schema"
)

// nameVal is one entry of a flag or enum table.
type nameVal struct {
	name string
	val  uint64
}

// flagTable renders a PTFlags or PTEnum parameter as libsinsp does
// (FIELDS.md section 8). Entries are in Falco's table order because the
// order decides both the text and which names hide others; values are
// the kernel's, not Falco's PPM encoding, because that is what the
// collector stores.
type flagTable struct {
	id      uint8 // key in Ctx.flagCache
	entries []nameVal
	enum    bool
}

// oRDONLYBit stands for the kernel's O_RDONLY (access mode 0, no bit of
// its own) while rendering open flags; it is above every kernel O_* bit
// and below the collector's synthetic bits.
const oRDONLYBit = 1 << 27

// Kernel open flags (x86-64 asm-generic values).
const (
	kOWronly    = 01
	kORdwr      = 02
	kOCreat     = 0100
	kOExcl      = 0200
	kOTrunc     = 01000
	kOAppend    = 02000
	kONonblock  = 04000
	kODsync     = 010000
	kODirect    = 040000
	kOLargefile = 0100000
	kODirectory = 0200000
	kOCloexec   = 02000000
	kOSync      = 04010000 // __O_SYNC | O_DSYNC
	kOTmpfile   = 020000000
)

var fileFlags = &flagTable{id: 1, entries: []nameVal{
	{"O_LARGEFILE", kOLargefile}, {"O_DIRECTORY", kODirectory}, {"O_DIRECT", kODirect},
	{"O_TRUNC", kOTrunc}, {"O_SYNC", kOSync}, {"O_NONBLOCK", kONonblock}, {"O_EXCL", kOExcl},
	{"O_DSYNC", kODsync}, {"O_APPEND", kOAppend}, {"O_CREAT", kOCreat}, {"O_RDWR", kORdwr},
	{"O_WRONLY", kOWronly}, {"O_RDONLY", oRDONLYBit}, {"O_CLOEXEC", kOCloexec}, {"O_NONE", 0},
	// O_TMPFILE includes O_DIRECTORY, which the entry above already took.
	{"O_TMPFILE", kOTmpfile}, {"O_F_CREATED", schema.OpenFlagCreated},
	{"FD_UPPER_LAYER", schema.OpenFlagUpperLayer}, {"FD_LOWER_LAYER", schema.OpenFlagLowerLayer},
}}

var creatFlags = &flagTable{id: 2, entries: []nameVal{
	{"O_F_CREATED", schema.OpenFlagCreated}, {"FD_UPPER_LAYER", schema.OpenFlagUpperLayer},
	{"FD_LOWER_LAYER", schema.OpenFlagLowerLayer},
}}

var socketFamilies = &flagTable{id: 3, enum: true, entries: []nameVal{
	{"AF_NFC", 39}, {"AF_ALG", 38}, {"AF_CAIF", 37}, {"AF_IEEE802154", 36}, {"AF_PHONET", 35},
	{"AF_ISDN", 34}, {"AF_RXRPC", 33}, {"AF_IUCV", 32}, {"AF_BLUETOOTH", 31}, {"AF_TIPC", 30},
	{"AF_CAN", 29}, {"AF_LLC", 26}, {"AF_WANPIPE", 25}, {"AF_PPPOX", 24}, {"AF_IRDA", 23},
	{"AF_SNA", 22}, {"AF_RDS", 21}, {"AF_ATMSVC", 20}, {"AF_ECONET", 19}, {"AF_ASH", 18},
	{"AF_PACKET", 17}, {"AF_ROUTE", 16}, {"AF_NETLINK", 16}, {"AF_KEY", 15}, {"AF_SECURITY", 14},
	{"AF_NETBEUI", 13}, {"AF_DECnet", 12}, {"AF_ROSE", 11}, {"AF_INET6", 10}, {"AF_X25", 9},
	{"AF_ATMPVC", 8}, {"AF_BRIDGE", 7}, {"AF_NETROM", 6}, {"AF_APPLETALK", 5}, {"AF_IPX", 4},
	{"AF_AX25", 3}, {"AF_INET", 2}, {"AF_LOCAL", 1}, {"AF_UNIX", 1}, {"AF_UNSPEC", 0},
}}

var ptraceRequests = &flagTable{id: 4, enum: true, entries: []nameVal{
	{"PTRACE_SINGLEBLOCK", 33}, {"PTRACE_SYSEMU_SINGLESTEP", 32}, {"PTRACE_SYSEMU", 31},
	{"PTRACE_ARCH_PRCTL", 30}, {"PTRACE_SET_THREAD_AREA", 26}, {"PTRACE_GET_THREAD_AREA", 25},
	{"PTRACE_OLDSETOPTIONS", 21}, {"PTRACE_SETFPXREGS", 19}, {"PTRACE_GETFPXREGS", 18},
	{"PTRACE_SETFPREGS", 15}, {"PTRACE_GETFPREGS", 14}, {"PTRACE_SETREGS", 13},
	{"PTRACE_GETREGS", 12}, {"PTRACE_SETSIGMASK", 0x420b}, {"PTRACE_GETSIGMASK", 0x420a},
	{"PTRACE_PEEKSIGINFO", 0x4209}, {"PTRACE_LISTEN", 0x4208}, {"PTRACE_INTERRUPT", 0x4207},
	{"PTRACE_SEIZE", 0x4206}, {"PTRACE_SETREGSET", 0x4205}, {"PTRACE_GETREGSET", 0x4204},
	{"PTRACE_SETSIGINFO", 0x4203}, {"PTRACE_GETSIGINFO", 0x4202}, {"PTRACE_GETEVENTMSG", 0x4201},
	{"PTRACE_SETOPTIONS", 0x4200}, {"PTRACE_SYSCALL", 24}, {"PTRACE_DETACH", 17},
	{"PTRACE_ATTACH", 16}, {"PTRACE_SINGLESTEP", 9}, {"PTRACE_KILL", 8}, {"PTRACE_CONT", 7},
	{"PTRACE_POKEUSR", 6}, {"PTRACE_POKEDATA", 5}, {"PTRACE_POKETEXT", 4}, {"PTRACE_PEEKUSR", 3},
	{"PTRACE_PEEKDATA", 2}, {"PTRACE_PEEKTEXT", 1}, {"PTRACE_TRACEME", 0},
}}

var bpfCommands = &flagTable{id: 5, enum: true, entries: []nameVal{
	{"BPF_MAP_CREATE", 0}, {"BPF_MAP_LOOKUP_ELEM", 1}, {"BPF_MAP_UPDATE_ELEM", 2},
	{"BPF_MAP_DELETE_ELEM", 3}, {"BPF_MAP_GET_NEXT_KEY", 4}, {"BPF_PROG_LOAD", 5},
	{"BPF_OBJ_PIN", 6}, {"BPF_OBJ_GET", 7}, {"BPF_PROG_ATTACH", 8}, {"BPF_PROG_DETACH", 9},
	{"BPF_PROG_TEST_RUN", 10}, {"BPF_PROG_GET_NEXT_ID", 11}, {"BPF_MAP_GET_NEXT_ID", 12},
	{"BPF_PROG_GET_FD_BY_ID", 13}, {"BPF_MAP_GET_FD_BY_ID", 14}, {"BPF_OBJ_GET_INFO_BY_FD", 15},
	{"BPF_PROG_QUERY", 16}, {"BPF_RAW_TRACEPOINT_OPEN", 17}, {"BPF_BTF_LOAD", 18},
	{"BPF_BTF_GET_FD_BY_ID", 19}, {"BPF_TASK_FD_QUERY", 20}, {"BPF_MAP_LOOKUP_AND_DELETE_ELEM", 21},
	{"BPF_MAP_FREEZE", 22}, {"BPF_BTF_GET_NEXT_ID", 23}, {"BPF_MAP_LOOKUP_BATCH", 24},
	{"BPF_MAP_LOOKUP_AND_DELETE_BATCH", 25}, {"BPF_MAP_UPDATE_BATCH", 26}, {"BPF_MAP_DELETE_BATCH", 27},
	{"BPF_LINK_CREATE", 28}, {"BPF_LINK_UPDATE", 29}, {"BPF_LINK_GET_FD_BY_ID", 30},
	{"BPF_LINK_GET_NEXT_ID", 31}, {"BPF_ENABLE_STATS", 32}, {"BPF_ITER_CREATE", 33},
	{"BPF_LINK_DETACH", 34}, {"BPF_PROG_BIND_MAP", 35}, {"BPF_TOKEN_CREATE", 36},
}}

// cloneFlags has kernel CLONE_* values; Falco's purely synthetic entries
// (CLONE_INVERTED, NAME_CHANGED, CLOSED, CLONE_CHILD_IN_PIDNS) never occur
// in a kernel value, and CLONE_STOPPED shares its bit with CLONE_NEWCGROUP
// on every kernel Peregrine supports, so only the latter is kept.
var cloneFlags = &flagTable{id: 6, entries: []nameVal{
	{"CLONE_FILES", 0x400}, {"CLONE_FS", 0x200}, {"CLONE_IO", 0x80000000},
	{"CLONE_NEWIPC", 0x08000000}, {"CLONE_NEWNET", 0x40000000}, {"CLONE_NEWNS", 0x00020000},
	{"CLONE_NEWPID", 0x20000000}, {"CLONE_NEWUTS", 0x04000000}, {"CLONE_PARENT", 0x8000},
	{"CLONE_PARENT_SETTID", 0x00100000}, {"CLONE_PTRACE", 0x2000}, {"CLONE_SIGHAND", 0x800},
	{"CLONE_SYSVSEM", 0x00040000}, {"CLONE_THREAD", 0x00010000}, {"CLONE_UNTRACED", 0x00800000},
	{"CLONE_VM", 0x100}, {"CLONE_NEWUSER", 0x10000000}, {"CLONE_CHILD_CLEARTID", 0x00200000},
	{"CLONE_CHILD_SETTID", 0x01000000}, {"CLONE_SETTLS", 0x00080000}, {"CLONE_VFORK", 0x4000},
	{"CLONE_NEWCGROUP", 0x02000000}, {"CLONE_NEWTIME", 0x80},
}}

var unlinkatFlags = &flagTable{id: 7, entries: []nameVal{{"AT_REMOVEDIR", 0x200}}}

var linkatFlags = &flagTable{id: 8, entries: []nameVal{{"AT_SYMLINK_FOLLOW", 0x400}, {"AT_EMPTY_PATH", 0x1000}}}

var renameat2Flags = &flagTable{id: 9, entries: []nameVal{
	{"RENAME_NOREPLACE", 1}, {"RENAME_EXCHANGE", 2}, {"RENAME_WHITEOUT", 4},
}}

var openat2Flags = &flagTable{id: 10, entries: []nameVal{
	{"RESOLVE_BENEATH", 0x08}, {"RESOLVE_IN_ROOT", 0x10}, {"RESOLVE_NO_MAGICLINKS", 0x02},
	{"RESOLVE_NO_SYMLINKS", 0x04}, {"RESOLVE_NO_XDEV", 0x01}, {"RESOLVE_CACHED", 0x20},
}}

var execveFlags = &flagTable{id: 11, entries: []nameVal{
	{"EXE_WRITABLE", schema.ExecWritable}, {"EXE_UPPER_LAYER", schema.ExecUpperLayer},
	{"EXE_FROM_MEMFD", schema.ExecFromMemfd}, {"EXE_LOWER_LAYER", schema.ExecLowerLayer},
}}

var chmodMode = &flagTable{id: 12, entries: []nameVal{
	{"S_IXOTH", 01}, {"S_IWOTH", 02}, {"S_IROTH", 04}, {"S_IXGRP", 010}, {"S_IWGRP", 020},
	{"S_IRGRP", 040}, {"S_IXUSR", 0100}, {"S_IWUSR", 0200}, {"S_IRUSR", 0400}, {"S_ISVTX", 01000},
	{"S_ISGID", 02000}, {"S_ISUID", 04000},
}}

var flagTables = map[string]*flagTable{
	schema.TableFileFlags:      fileFlags,
	schema.TableSocketFamilies: socketFamilies,
	schema.TablePtraceRequests: ptraceRequests,
	schema.TableBpfCommands:    bpfCommands,
	schema.TableCloneFlags:     cloneFlags,
	schema.TableUnlinkatFlags:  unlinkatFlags,
	schema.TableLinkatFlags:    linkatFlags,
	schema.TableRenameat2Flags: renameat2Flags,
	schema.TableOpenat2Resolve: openat2Flags,
	schema.TableExecveFlags:    execveFlags,
	schema.TableCreatFlags:     creatFlags,
}

// tableOf finds a table by name. A switch on the few names is several
// times faster than a map lookup on the per-event path.
func tableOf(name string) *flagTable {
	switch name {
	case schema.TableFileFlags:
		return fileFlags
	case schema.TableCloneFlags:
		return cloneFlags
	case schema.TableSocketFamilies:
		return socketFamilies
	}
	return flagTables[name]
}

// render returns the text of v: the matching names joined by "|", or the
// decimal number when nothing matches.
func (t *flagTable) render(v uint64) string {
	var b strings.Builder
	add := func(name string) {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString(name)
	}
	if t.enum {
		for _, e := range t.entries {
			if e.val == v {
				add(e.name)
			}
		}
	} else {
		rem := v
		for _, e := range t.entries {
			switch {
			case e.val == 0:
				if v == 0 {
					add(e.name)
				}
			case rem&e.val == e.val:
				add(e.name)
				rem &^= e.val
			}
		}
	}
	if b.Len() == 0 {
		return strconv.FormatUint(v, 10)
	}
	return b.String()
}

// openAccessBits maps the kernel access mode of open-family flags into
// the table's encoding: mode 0 (O_RDONLY, also O_PATH opens) gets its own
// bit, as libsinsp's PPM_O_RDONLY.
func openAccessBits(flags uint64) uint64 {
	if flags&3 == 0 {
		flags |= oRDONLYBit
	}
	return flags
}

// capNames are the Linux capabilities by bit number.
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
	"CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
	"CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// capsText names the set bits of caps in ascending order, space-separated;
// "" for an empty set. Bits without a name are skipped, as in libsinsp.
func capsText(caps uint64) string {
	var b strings.Builder
	for i, n := range capNames {
		if caps&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// errnoNames are Linux errno names by number (x86-64).
var errnoNames = [...]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
	9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
	16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
	23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
	30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK",
	36: "ENAMETOOLONG", 37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG",
	43: "EIDRM", 44: "ECHRNG", 45: "EL2NSYNC", 46: "EL3HLT", 47: "EL3RST", 48: "ELNRNG",
	49: "EUNATCH", 50: "ENOCSI", 51: "EL2HLT", 52: "EBADE", 53: "EBADR", 54: "EXFULL", 55: "ENOANO",
	56: "EBADRQC", 57: "EBADSLT", 59: "EBFONT", 60: "ENOSTR", 61: "ENODATA", 62: "ETIME", 63: "ENOSR",
	64: "ENONET", 65: "ENOPKG", 66: "EREMOTE", 67: "ENOLINK", 68: "EADV", 69: "ESRMNT", 70: "ECOMM",
	71: "EPROTO", 72: "EMULTIHOP", 73: "EDOTDOT", 74: "EBADMSG", 75: "EOVERFLOW", 76: "ENOTUNIQ",
	77: "EBADFD", 78: "EREMCHG", 79: "ELIBACC", 80: "ELIBBAD", 81: "ELIBSCN", 82: "ELIBMAX",
	83: "ELIBEXEC", 84: "EILSEQ", 85: "ERESTART", 86: "ESTRPIPE", 87: "EUSERS", 88: "ENOTSOCK",
	89: "EDESTADDRREQ", 90: "EMSGSIZE", 91: "EPROTOTYPE", 92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT",
	94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP", 96: "EPFNOSUPPORT", 97: "EAFNOSUPPORT", 98: "EADDRINUSE",
	99: "EADDRNOTAVAIL", 100: "ENETDOWN", 101: "ENETUNREACH", 102: "ENETRESET", 103: "ECONNABORTED",
	104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN", 107: "ENOTCONN", 108: "ESHUTDOWN",
	109: "ETOOMANYREFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 112: "EHOSTDOWN", 113: "EHOSTUNREACH",
	114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE", 117: "EUCLEAN", 118: "ENOTNAM", 119: "ENAVAIL",
	120: "EISNAM", 121: "EREMOTEIO", 122: "EDQUOT", 123: "ENOMEDIUM", 124: "EMEDIUMTYPE",
	125: "ECANCELED", 126: "ENOKEY", 127: "EKEYEXPIRED", 128: "EKEYREVOKED", 129: "EKEYREJECTED",
	130: "EOWNERDEAD", 131: "ENOTRECOVERABLE", 132: "ERFKILL", 133: "EHWPOISON",
}

// errnoText returns the errno name of a negative result (-2 is "ENOENT"),
// or the number itself when it has no name ("-512").
func errnoText(res int64) string {
	if n := -res; n > 0 && n < int64(len(errnoNames)) && errnoNames[n] != "" {
		return errnoNames[n]
	}
	return strconv.FormatInt(res, 10)
}
