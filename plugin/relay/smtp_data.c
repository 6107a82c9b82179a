/*
 * smtp_data.c - the end-of-data scanner (see smtp_data.h).
 *
 * States: at the start of a line (BOL), "." at the start of a line (DOT),
 * ".\r" at the start of a line (DOTCR), inside a line (MID), "\r" inside a
 * line (CR). A bare LF or a CR not followed by LF sets d->bare and leaves
 * the scanner inside a line, so a line start is only ever made by CRLF.
 *
 * SECURITY: scans client bytes; every access is buf[i] with i < len.
 */
#include "config.h"

#include "smtp_data.h"

enum {
	D_BOL,
	D_DOT,
	D_DOTCR,
	D_MID,
	D_CR,
};

void
smtp_data_init(struct smtp_data *d)
{
	d->state = D_BOL;
	d->bare = false;
	d->bytes = 0;
}

int
smtp_data_scan(struct smtp_data *d, const uint8_t *buf, size_t len,
    size_t *fwd, size_t *used)
{
	size_t dot = 0;		/* where a line-start "." began */

	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];

		switch (d->state) {
		case D_BOL:
			if (c == '.') {
				dot = i;
				d->state = D_DOT;
				continue;
			}
			break;
		case D_DOT:
			if (c == '\r') {
				d->state = D_DOTCR;
				continue;
			}
			break;	/* "..", ".x": a line like any other */
		case D_DOTCR:
			if (c == '\n') {
				d->state = D_BOL;
				*fwd = dot;
				*used = i + 1;
				d->bytes += dot;
				return SMTP_DATA_END;
			}
			d->bare = true;	/* ".\r" then not LF */
			break;
		case D_CR:
			if (c == '\n') {
				d->state = D_BOL;
				continue;
			}
			d->bare = true;
			break;
		default:
			break;
		}
		/* inside a line */
		if (c == '\r')
			d->state = D_CR;
		else {
			if (c == '\n')
				d->bare = true;
			d->state = D_MID;
		}
	}
	if (d->state == D_DOT || d->state == D_DOTCR) {
		/* hold the possible terminator back; rescan it next time
		 * from the start of its line */
		d->state = D_BOL;
		*fwd = *used = dot;
	} else
		*fwd = *used = len;
	d->bytes += *fwd;
	return SMTP_DATA_MORE;
}
