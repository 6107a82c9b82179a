/*
 * log.c - see log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "danegate";
static int log_verbosity = LOG_VERB_NOTICE;
static int log_journal;		/* stderr goes to journald: prefix "<N>" */
static int log_syslog;		/* detached: syslog(3) */

void
log_init(const char *progname, int verbosity)
{
	log_progname = progname;
	log_verbosity = verbosity;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_verbosity(int verbosity)
{
	log_verbosity = verbosity;
}

void
log_use_syslog(void)
{
	openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

int
log_get_verbosity(void)
{
	return log_verbosity;
}

static const char *
log_level_name(int prio)
{
	switch (prio) {
	case LOG_CRIT:
		return "fatal";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* One line, written with a single write(2) so concurrent writers don't mix. */
__attribute__((format(printf, 3, 0)))
static void
log_vwrite(int prio, int with_errno, const char *fmt, va_list ap)
{
	char msg[2048], line[2400];
	int saved_errno = errno;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		syslog(prio, "%s: %s%s%s", log_level_name(prio), msg,
		    with_errno ? ": " : "",
		    with_errno ? strerror(saved_errno) : "");
		errno = saved_errno;
		return;
	}
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s: %s%s%s\n", prio,
		    log_level_name(prio), msg, with_errno ? ": " : "",
		    with_errno ? strerror(saved_errno) : "");
	else
		n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s%s%s\n",
		    log_progname, (long)getpid(), log_level_name(prio), msg,
		    with_errno ? ": " : "",
		    with_errno ? strerror(saved_errno) : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}

#define LOG_BODY(prio, with_errno)                                   \
	do {                                                         \
		va_list ap;                                          \
		va_start(ap, fmt);                                   \
		log_vwrite((prio), (with_errno), fmt, ap);           \
		va_end(ap);                                          \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, 0);
}

void
log_err(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, 0);
}

void
log_notice(const char *fmt, ...)
{
	if (log_verbosity >= LOG_VERB_NOTICE)
		LOG_BODY(LOG_NOTICE, 0);
}

void
log_info(const char *fmt, ...)
{
	if (log_verbosity >= LOG_VERB_INFO)
		LOG_BODY(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_verbosity >= LOG_VERB_DEBUG)
		LOG_BODY(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, 0);
	exit(1);
}
