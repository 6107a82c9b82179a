#!/bin/sh
# Replays the smtp_reply fuzz corpus (run by make check). The files are named one
# by one: given a directory, a libFuzzer build would start fuzzing into it.
exec ./tests/fuzz/fuzz_smtp_reply "${srcdir:-.}"/tests/fuzz/corpus/smtp_reply/*
