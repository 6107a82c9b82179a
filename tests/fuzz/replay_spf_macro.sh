#!/bin/sh
# Replays the SPF macro expander's fuzz corpus (run by make check). The
# files are named one by one: given a directory, a libFuzzer build would
# start fuzzing into it.
exec ./tests/fuzz/fuzz_spf_macro "${srcdir:-.}"/tests/fuzz/corpus/spf_macro/*
