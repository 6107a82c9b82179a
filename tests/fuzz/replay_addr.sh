#!/bin/sh
# Replays the address parser's fuzz corpus (run by make check). The files are
# named one by one: given a directory, a libFuzzer build would start fuzzing
# into it.
exec ./tests/fuzz/fuzz_addr "${srcdir:-.}"/tests/fuzz/corpus/addr/*
