/*
 * sandbox.h - privilege drop and seccomp for danegate's daemons.
 *
 * A daemon starts with whatever it needs to set itself up (root, or under
 * systemd the user "danegate" with the ambient capability
 * CAP_NET_BIND_SERVICE), binds its listening sockets, reads its config and
 * trust anchors, and then locks itself in, in this order:
 *
 *     sandbox_drop_privileges(user, chroot, directory, ...)
 *     sandbox_no_new_privs(...)
 *     sandbox_seccomp_install(SANDBOX_RESOLVER, ...)
 *
 * Each step is verified after it is taken (setuid(0) must fail, no
 * capability may remain, PR_GET_NO_NEW_PRIVS must read 1), and each returns
 * 0, or -1 with a one-line reason in err: the caller logs it and exits, as a
 * daemon that could not lock itself in must not serve.
 *
 * The seccomp filter is an allow-list of the system calls the running
 * resolver needs (libevent's epoll loop, libunbound's UDP/TCP queries and
 * its rewrites of the RFC 5011 trust anchor file, re-reading the config on
 * SIGHUP, sd_notify). Anything else kills the whole process with SIGSYS;
 * the kernel logs the system call number ("audit: type=1326 ... syscall=N",
 * see `journalctl -k`; `scmp_sys_resolver N` names it).
 *
 * Debugging: DANEGATE_SECCOMP=log in the environment makes the filter log
 * forbidden calls instead of killing the process (SCMP_ACT_LOG, same kernel
 * log line), so that one run finds every missing call. Use it as well for
 * builds with --enable-sanitizers, whose run-time makes calls the resolver
 * itself never does. DANEGATE_SECCOMP=kill (or unset) is the default; any
 * other value is refused, so that a typo cannot weaken the sandbox.
 *
 * SECURITY: this module is what turns a process that could bind port 53
 * into one that can only do DNS. It talks to the kernel only (getpwnam()
 * reads the user database through NSS before anything is dropped).
 *
 * Not thread-aware beyond seccomp: call it before any thread is started
 * (the filter itself is synchronised to all threads, SCMP_FLTATR_CTL_TSYNC).
 */
#ifndef DG_SANDBOX_H
#define DG_SANDBOX_H

#include <stddef.h>

/* Which allow-list sandbox_seccomp_install() loads. */
enum sandbox_profile {
	SANDBOX_RESOLVER,	/* danegated once its listeners are bound */
	SANDBOX_RELAY,		/* danegate-relay: the same calls (libunbound,
				 * libevent, TCP in and out, GnuTLS, its
				 * files re-read on SIGHUP) */
};

/*
 * Switches the process to user username for good. Looks the user up (before
 * any chroot, while the user database is reachable), chroot()s into
 * chroot_dir if it is non-empty, chdir()s to workdir (a path inside the
 * chroot; "" or NULL = "/" of the new root, or stay where we are without a
 * chroot), then setgroups(1, {gid}), setresgid(gid, gid, gid),
 * setresuid(uid, uid, uid), and checks that setuid(0) now fails and that no
 * capability is left.
 *
 * If the process already runs as that user and group (systemd's User=), the
 * identity calls are skipped (they would fail without CAP_SETUID) and only
 * the capabilities it was started with (AmbientCapabilities=) are dropped.
 * A process that runs as another non-root user cannot switch and gets an
 * error: configure username "" for that.
 *
 * username "" or NULL means "no drop": the identity is kept and only
 * chroot_dir/workdir are applied. A user with uid 0 is refused.
 */
int sandbox_drop_privileges(const char *username, const char *chroot_dir,
    const char *workdir, char *err, size_t errlen);

/*
 * Gives path (a directory made as root before the privilege drop, which
 * the unprivileged process writes into later) to username and its group.
 * Does nothing, and returns 0, unless running as root with a username
 * that exists (an unknown user is sandbox_drop_privileges()'s to report);
 * -1 with errno when chown(2) fails.
 */
int sandbox_give_to_user(const char *path, const char *username);

/*
 * Sets PR_SET_NO_NEW_PRIVS, so that no execve() can ever gain privileges
 * again (setuid binaries, file capabilities), and checks that it stuck. It is
 * also what lets an unprivileged process install a seccomp filter.
 */
int sandbox_no_new_privs(char *err, size_t errlen);

/*
 * Loads the seccomp allow-list of profile for the native architecture (any
 * other architecture's system call ABI is killed). The default action is
 * SCMP_ACT_KILL_PROCESS, or SCMP_ACT_LOG when the environment has
 * DANEGATE_SECCOMP=log (see the top of this file). Call it last: after it,
 * no file outside the already-open ones and the working directory matters,
 * and no privileged call is possible.
 */
int sandbox_seccomp_install(enum sandbox_profile profile, char *err,
    size_t errlen);

/*
 * The whole lock-in of a daemon, in the order above:
 * sandbox_drop_privileges(username, chroot_dir, dir),
 * sandbox_no_new_privs(), sandbox_seccomp_install(profile). Returns 0, or
 * -1 with the failed step and its reason in err; the daemon must then
 * stop, not serve half locked in.
 */
int sandbox_enter(const char *username, const char *chroot_dir,
    const char *dir, enum sandbox_profile profile, char *err,
    size_t errlen);

/*
 * The mode sandbox_seccomp_install() will use, from DANEGATE_SECCOMP:
 * "kill" or "log", or NULL for a value it refuses. For the start-up log
 * line ("seccomp: log mode, forbidden calls are only logged").
 */
const char *sandbox_seccomp_mode(void);

#endif
