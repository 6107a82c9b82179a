/*
 * sandbox.c - privilege drop and seccomp (see sandbox.h).
 *
 * SECURITY: runs at the daemon's start-up privilege (root, or a system user
 * with CAP_NET_BIND_SERVICE) and is what takes that privilege away. It
 * reads the user database (getpwnam) and otherwise talks only to the
 * kernel. Every step is checked after it is taken, because a drop that
 * silently did not happen is worse than a daemon that refuses to start.
 *
 * The identity sequence is OpenBSD's (chroot, chdir, setgroups, setresgid,
 * setresuid); the seccomp allow-list is built with libseccomp so that it is
 * written in system call names, with arguments checked where that is cheap
 * and meaningful (socket families, ioctl requests, no executable memory).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/capability.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"

#define SANDBOX_SECCOMP_ENV "DANEGATE_SECCOMP"

static int
sandbox_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into err (if there is room for one) and returns -1. */
static int
sandbox_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* --- capabilities --------------------------------------------------- */

/*
 * The raw capget/capset calls (no libcap: two structs are all it takes).
 * Version 3 covers capabilities 0..63.
 */
static int
sandbox_caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};

	memset(data, 0, 2 * sizeof(data[0]));
	return (int)syscall(SYS_capget, &hdr, data);
}

/*
 * Empties the effective, permitted, inheritable and ambient sets. Lowering
 * capabilities never needs a privilege, so this works for a system user
 * started with AmbientCapabilities= as well as for root after setresuid()
 * (where the kernel has already cleared them, unless someone set
 * SECBIT_KEEP_CAPS: we do not rely on it). The bounding set is left alone:
 * changing it needs CAP_SETPCAP, and with no_new_privs and no permitted
 * capabilities nothing can be gained from it.
 */
static int
sandbox_caps_drop(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0,
	};
	struct __user_cap_data_struct data[2];

	/* Ambient capabilities would survive an execve(); clear them first.
	 * EINVAL means a kernel older than 4.3, which has none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return sandbox_fail(err, errlen,
		    "prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) == -1)
		return sandbox_fail(err, errlen, "capset(none): %s",
		    strerror(errno));
	return 0;
}

/* Checks that no effective or permitted capability is left. */
static int
sandbox_caps_check(char *err, size_t errlen)
{
	struct __user_cap_data_struct data[2];

	if (sandbox_caps_get(data) == -1)
		return sandbox_fail(err, errlen, "capget: %s", strerror(errno));
	if (data[0].effective != 0 || data[1].effective != 0 ||
	    data[0].permitted != 0 || data[1].permitted != 0)
		return sandbox_fail(err, errlen,
		    "capabilities remain after the drop (permitted %08x%08x)",
		    data[1].permitted, data[0].permitted);
	return 0;
}

/* --- identity ------------------------------------------------------- */

/* chroot() and then chdir() into it, so that no directory outside the new
 * root stays reachable through the working directory. */
static int
sandbox_chroot(const char *dir, char *err, size_t errlen)
{
	if (chroot(dir) == -1)
		return sandbox_fail(err, errlen, "chroot(%s): %s%s", dir,
		    strerror(errno), errno == EPERM ?
		    " (needs root or CAP_SYS_CHROOT; under systemd use "
		    "RootDirectory= instead and set chroot: \"\")" : "");
	if (chdir("/") == -1)
		return sandbox_fail(err, errlen, "chdir(/) in chroot %s: %s",
		    dir, strerror(errno));
	return 0;
}

/* Verifies the identity switch: every uid/gid is the target one, only the
 * one group is left, and neither uid 0 nor gid 0 can be regained. */
static int
sandbox_identity_check(uid_t uid, gid_t gid, int check_groups, char *err,
    size_t errlen)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, groups[2];
	int n;

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		return sandbox_fail(err, errlen, "getresuid/getresgid: %s",
		    strerror(errno));
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid)
		return sandbox_fail(err, errlen,
		    "identity switch incomplete: uids %ld/%ld/%ld gids "
		    "%ld/%ld/%ld, wanted %ld/%ld", (long)ruid, (long)euid,
		    (long)suid, (long)rgid, (long)egid, (long)sgid, (long)uid,
		    (long)gid);
	if (check_groups) {
		n = getgroups(2, groups);
		if (n != 1 || groups[0] != gid)
			return sandbox_fail(err, errlen,
			    "supplementary groups were not reset (%d left)",
			    n);
	}
	/* The proof: with every id non-zero and no capability, setuid(0)
	 * must fail. Success here would mean we are root again; the caller
	 * exits on our -1. */
	if (setuid(0) != -1)
		return sandbox_fail(err, errlen,
		    "setuid(0) succeeded after the privilege drop");
	if (setgid(0) != -1)
		return sandbox_fail(err, errlen,
		    "setgid(0) succeeded after the privilege drop");
	return 0;
}

int
sandbox_drop_privileges(const char *username, const char *chroot_dir,
    const char *workdir, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	uid_t uid = 0, ruid, euid, suid;
	gid_t gid = 0, rgid, egid, sgid;
	int already;

	/* Guard: look the user up now, while /etc/passwd and the NSS modules
	 * are still reachable; after chroot() they may not be. */
	if (username != NULL && username[0] != '\0') {
		errno = 0;
		pw = getpwnam(username);
		if (pw == NULL)
			return sandbox_fail(err, errlen,
			    "user %s: %s", username, errno != 0 ?
			    strerror(errno) : "no such user");
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		/* Switching "to root" would look like a drop and be none. */
		if (uid == 0 || gid == 0)
			return sandbox_fail(err, errlen,
			    "user %s has uid or gid 0: refusing to run with it",
			    username);
	}

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		return sandbox_fail(err, errlen, "getresuid/getresgid: %s",
		    strerror(errno));
	/* systemd's User= started us as the target user already. */
	already = pw != NULL && ruid == uid && euid == uid && suid == uid &&
	    rgid == gid && egid == gid && sgid == gid;
	/* Guard: a non-root process cannot become another user; say what to
	 * change rather than failing on setgroups() with a bare EPERM. */
	if (pw != NULL && !already && euid != 0)
		return sandbox_fail(err, errlen,
		    "cannot switch to user %s: running as uid %ld, not root "
		    "(set username: \"\" to keep the current user)", username,
		    (long)euid);

	if (chroot_dir != NULL && chroot_dir[0] != '\0') {
		if (sandbox_chroot(chroot_dir, err, errlen) == -1)
			return -1;
	}
	if (workdir != NULL && workdir[0] != '\0' && chdir(workdir) == -1)
		return sandbox_fail(err, errlen, "chdir(%s)%s%s: %s", workdir,
		    chroot_dir != NULL && chroot_dir[0] != '\0' ?
		    " inside chroot " : "", chroot_dir != NULL ? chroot_dir :
		    "", strerror(errno));

	if (pw == NULL)
		return 0;	/* username "": identity kept on purpose */

	if (!already) {
		/* Groups first: once the uid is gone, so is the right to
		 * change them. One group only (the user's primary); the
		 * user's other groups from /etc/group are not wanted. */
		if (setgroups(1, &gid) == -1)
			return sandbox_fail(err, errlen, "setgroups(%ld): %s",
			    (long)gid, strerror(errno));
		if (setresgid(gid, gid, gid) == -1)
			return sandbox_fail(err, errlen, "setresgid(%ld): %s",
			    (long)gid, strerror(errno));
		if (setresuid(uid, uid, uid) == -1)
			return sandbox_fail(err, errlen, "setresuid(%ld): %s",
			    (long)uid, strerror(errno));
	}
	if (sandbox_caps_drop(err, errlen) == -1)
		return -1;
	/* When we were started as the user, its supplementary groups were set
	 * by whoever started us (systemd: the user's groups) and can no longer
	 * be changed: they are not checked. */
	if (sandbox_identity_check(uid, gid, !already, err, errlen) == -1)
		return -1;
	return sandbox_caps_check(err, errlen);
}

int
sandbox_give_to_user(const char *path, const char *username)
{
	const struct passwd *pw;

	if (username == NULL || username[0] == '\0' || geteuid() != 0 ||
	    (pw = getpwnam(username)) == NULL)
		return 0;
	return chown(path, pw->pw_uid, pw->pw_gid);
}

int
sandbox_no_new_privs(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return sandbox_fail(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return sandbox_fail(err, errlen,
		    "PR_SET_NO_NEW_PRIVS did not stick");
	return 0;
}

/* --- seccomp -------------------------------------------------------- */

/*
 * System calls the resolver may make with any arguments, after start-up.
 * A name the native architecture does not have (open, epoll_wait and
 * friends on arm64) is skipped. Grouped by who needs them.
 */
static const char *const sandbox_resolver_calls[] = {
	/* the libevent loop (epoll backend; its signal pipe and timers) */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select",
	"pselect6", "pipe", "pipe2", "eventfd2", "timerfd_create",
	"timerfd_settime", "timerfd_gettime",
	/* descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close",
	"fcntl", "lseek",
	/* sockets: libunbound's outgoing UDP and TCP queries, the DNS front
	 * end's accepted TCP connections, the control socket, sd_notify */
	"connect", "bind", "listen", "accept", "accept4", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	"shutdown", "socketpair",
	/* files: libunbound rewrites the RFC 5011 trust anchor file (write a
	 * temporary file, rename it over the old one); SIGHUP re-reads the
	 * config, whose include: globs list directories */
	"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "getdents64", "rename",
	"renameat", "renameat2", "unlink", "unlinkat", "fsync", "fdatasync",
	/* memory (mmap and mprotect are below: never executable) */
	"brk", "munmap", "mremap", "madvise",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	/* randomness: libunbound's query ids and source ports */
	"getrandom",
	/* signals: libevent's handlers, SIGHUP/SIGTERM */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"sigaltstack", "restart_syscall",
	/* threads and identity (glibc, libunbound's locks, sd_notify) */
	"futex", "sched_yield", "sched_getaffinity", "getpid", "gettid",
	"getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "uname", "getrlimit", "prlimit64",
	"sysinfo",		/* glibc's qsort() asks for the memory size */
	/* the end */
	"exit", "exit_group",
};

/* Adds one allow rule; a name unknown to this architecture is skipped. */
static int
sandbox_allow(scmp_filter_ctx ctx, const char *name, unsigned n_args,
    const struct scmp_arg_cmp *args, char *err, size_t errlen)
{
	int nr, rc;

	nr = seccomp_syscall_resolve_name(name);
	if (nr < 0)
		return 0;	/* not a system call here (e.g. open on arm64) */
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n_args, args);
	if (rc < 0)
		return sandbox_fail(err, errlen, "seccomp rule for %s: %s",
		    name, strerror(-rc));
	return 0;
}

static int
sandbox_resolver_rules(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	static const unsigned long ioctls[] = {
		FIONREAD,	/* libevent: bytes waiting on a TCP socket */
		FIONBIO,	/* non-blocking mode, the ioctl way */
		TCGETS,		/* isatty() in stdio; harmless */
	};
	struct scmp_arg_cmp cmp;
	size_t i;

	for (i = 0; i < sizeof(sandbox_resolver_calls) /
	    sizeof(sandbox_resolver_calls[0]); i++)
		if (sandbox_allow(ctx, sandbox_resolver_calls[i], 0, NULL,
		    err, errlen) == -1)
			return -1;

	/* New sockets only in the families DNS and the control/notify
	 * sockets use: no netlink, no packet sockets, nothing exotic. */
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		cmp = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]);
		if (sandbox_allow(ctx, "socket", 1, &cmp, err, errlen) == -1)
			return -1;
	}
	for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		cmp = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]);
		if (sandbox_allow(ctx, "ioctl", 1, &cmp, err, errlen) == -1)
			return -1;
	}
	/* Memory, but never executable memory: everything the resolver runs
	 * is mapped before the filter is loaded, so new code could only be
	 * an attacker's. (dlopen() after start-up would die here.) */
	cmp = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (sandbox_allow(ctx, "mmap", 1, &cmp, err, errlen) == -1 ||
	    sandbox_allow(ctx, "mprotect", 1, &cmp, err, errlen) == -1)
		return -1;
	/* abort() and raise() signal their own process only. */
	cmp = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	if (sandbox_allow(ctx, "tgkill", 1, &cmp, err, errlen) == -1 ||
	    sandbox_allow(ctx, "kill", 1, &cmp, err, errlen) == -1)
		return -1;
	return 0;
}

const char *
sandbox_seccomp_mode(void)
{
	const char *v = getenv(SANDBOX_SECCOMP_ENV);

	if (v == NULL || v[0] == '\0' || strcmp(v, "kill") == 0)
		return "kill";
	if (strcmp(v, "log") == 0)
		return "log";
	return NULL;
}

int
sandbox_seccomp_install(enum sandbox_profile profile, char *err,
    size_t errlen)
{
	scmp_filter_ctx ctx;
	const char *mode;
	uint32_t action;
	int rc;

	mode = sandbox_seccomp_mode();
	if (mode == NULL)
		return sandbox_fail(err, errlen,
		    "%s=%s: expected \"kill\" (the default) or \"log\"",
		    SANDBOX_SECCOMP_ENV, getenv(SANDBOX_SECCOMP_ENV));
	/* Guard: KILL_PROCESS and LOG need libseccomp API level 3 (kernel
	 * 4.14). KILL_THREAD instead would leave a half-dead daemon. */
	if (seccomp_api_get() < 3)
		return sandbox_fail(err, errlen,
		    "seccomp: kernel or libseccomp too old (API level %u, "
		    "need 3: Linux 4.14)", seccomp_api_get());
	action = strcmp(mode, "log") == 0 ? SCMP_ACT_LOG :
	    SCMP_ACT_KILL_PROCESS;

	ctx = seccomp_init(action);
	if (ctx == NULL)
		return sandbox_fail(err, errlen, "seccomp_init failed");
	/* Every thread gets the filter, not just the caller. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		seccomp_release(ctx);
		return sandbox_fail(err, errlen, "seccomp TSYNC: %s",
		    strerror(-rc));
	}
	switch (profile) {
	case SANDBOX_RESOLVER:
	case SANDBOX_RELAY:
		rc = sandbox_resolver_rules(ctx, err, errlen);
		break;
	default:
		rc = sandbox_fail(err, errlen, "seccomp: unknown profile %d",
		    (int)profile);
		break;
	}
	if (rc == -1) {
		seccomp_release(ctx);
		return -1;
	}
	/* seccomp_load() sets no_new_privs itself (SCMP_FLTATR_CTL_NNP); the
	 * caller has already done it explicitly and checked it. */
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return sandbox_fail(err, errlen, "seccomp_load: %s",
		    strerror(-rc));
	return 0;
}

int
sandbox_enter(const char *username, const char *chroot_dir, const char *dir,
    enum sandbox_profile profile, char *err, size_t errlen)
{
	char why[256];

	if (sandbox_drop_privileges(username, chroot_dir, dir, why,
	    sizeof(why)) != 0)
		return sandbox_fail(err, errlen, "cannot drop privileges: %s",
		    why);
	if (sandbox_no_new_privs(err, errlen) != 0)
		return -1;
	if (sandbox_seccomp_install(profile, why, sizeof(why)) != 0)
		return sandbox_fail(err, errlen,
		    "cannot install the seccomp filter: %s", why);
	return 0;
}
