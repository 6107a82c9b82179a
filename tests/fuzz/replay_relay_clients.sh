#!/bin/sh
# Replays the relay clients decoder's fuzz corpus (run by make check). The
# files are named one by one: given a directory, a libFuzzer build would
# start fuzzing into it.
exec ./tests/fuzz/fuzz_relay_clients "${srcdir:-.}"/tests/fuzz/corpus/relay_clients/*
