#!/bin/sh
# Replays the sts_cache fuzz corpus (run by make check). The files are named
# one by one: given a directory, a libFuzzer build would start fuzzing into it.
exec ./tests/fuzz/fuzz_sts_cache "${srcdir:-.}"/tests/fuzz/corpus/sts_cache/*
