/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* x86_64 syscall numbers the probe decodes (asm/unistd_64.h). */
#ifndef PEREGRINE_SYSCALLS_H
#define PEREGRINE_SYSCALLS_H

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_pipe 22
#define SYS_dup 32
#define SYS_dup2 33
#define SYS_socket 41
#define SYS_connect 42
#define SYS_accept 43
#define SYS_sendto 44
#define SYS_recvfrom 45
#define SYS_sendmsg 46
#define SYS_recvmsg 47
#define SYS_bind 49
#define SYS_listen 50
#define SYS_socketpair 53
#define SYS_clone 56
#define SYS_fork 57
#define SYS_vfork 58
#define SYS_execve 59
#define SYS_fcntl 72
#define SYS_chdir 80
#define SYS_fchdir 81
#define SYS_rename 82
#define SYS_mkdir 83
#define SYS_rmdir 84
#define SYS_creat 85
#define SYS_link 86
#define SYS_unlink 87
#define SYS_symlink 88
#define SYS_chmod 90
#define SYS_fchmod 91
#define SYS_ptrace 101
#define SYS_setuid 105
#define SYS_setgid 106
#define SYS_setreuid 113
#define SYS_setregid 114
#define SYS_setresuid 117
#define SYS_setresgid 119
#define SYS_chroot 161
#define SYS_mount 165
#define SYS_umount2 166
#define SYS_init_module 175
#define SYS_openat 257
#define SYS_mkdirat 258
#define SYS_unlinkat 263
#define SYS_renameat 264
#define SYS_linkat 265
#define SYS_symlinkat 266
#define SYS_fchmodat 268
#define SYS_unshare 272
#define SYS_accept4 288
#define SYS_dup3 292
#define SYS_pipe2 293
#define SYS_setns 308
#define SYS_finit_module 313
#define SYS_renameat2 316
#define SYS_memfd_create 319
#define SYS_bpf 321
#define SYS_execveat 322
#define SYS_userfaultfd 323
#define SYS_clone3 435
#define SYS_openat2 437
#define SYS_fchmodat2 452

#define SYS_MAX 512

#endif
