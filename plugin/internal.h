/*
 * internal.h - what libdanegate's files share and do not export.
 *
 * Public symbols carry DANEGATE_EXPORT; the library is built with
 * -fvisibility=hidden and a danegate_* export list, so anything else stays
 * private.
 */
#ifndef DANEGATE_INTERNAL_H
#define DANEGATE_INTERNAL_H

#include "danegate.h"

#define DANEGATE_EXPORT __attribute__((visibility("default")))

#endif
