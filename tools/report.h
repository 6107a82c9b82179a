/*
 * report.h - tlsa-check's output: a text report for people, or one JSON
 * document (json-c) whose schema is documented in tlsa-check(1).
 */
#ifndef TLSA_CHECK_REPORT_H
#define TLSA_CHECK_REPORT_H

#include <stdio.h>

#include "audit.h"

#define REPORT_JSON_SCHEMA_VERSION 1

void report_text(FILE *f, const struct audit *a);

/* Writes {"version":1,"domains":[...],"exit":N} for all audits. */
void report_json(FILE *f, const struct audit *audits, size_t n, int exit_code);

#endif
