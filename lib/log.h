/*
 * log.h - logging for danegate's programs.
 *
 * Messages go to stderr. When stderr is connected to journald (systemd sets
 * JOURNAL_STREAM), every line carries an sd-daemon "<N>" priority prefix, so
 * the journal keeps the level without linking libsystemd here.
 *
 * log_warn() appends strerror(errno); log_warnx() does not (OpenBSD idiom).
 * fatal()/fatalx() log and exit(1): only for start-up/config errors and
 * broken invariants.
 *
 * SECURITY: writes only to fd 2; format strings are always ours.
 */
#ifndef DG_LOG_H
#define DG_LOG_H

#include <stdarg.h>

/* Verbosity levels, as Unbound's `verbosity:` counts them. */
enum log_verbosity {
	LOG_VERB_OPS = 0,     /* errors and warnings only */
	LOG_VERB_NOTICE = 1,  /* + operational notices (start, reload, stop) */
	LOG_VERB_INFO = 2,    /* + per-event information */
	LOG_VERB_DEBUG = 3,   /* + debugging detail */
};

/* Sets the program name shown in each line and the initial verbosity. */
void log_init(const char *progname, int verbosity);
void log_set_verbosity(int verbosity);
/* From now on, log through syslog(3) (a daemon that detached from its
 * terminal). */
void log_use_syslog(void);
int log_get_verbosity(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2)))
void fatal(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void fatalx(const char *fmt, ...);

#endif
