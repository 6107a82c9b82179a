#!/bin/sh
# Replays the relay sasl decoder's fuzz corpus (run by make check). The
# files are named one by one: given a directory, a libFuzzer build would
# start fuzzing into it.
exec ./tests/fuzz/fuzz_relay_sasl "${srcdir:-.}"/tests/fuzz/corpus/relay_sasl/*
