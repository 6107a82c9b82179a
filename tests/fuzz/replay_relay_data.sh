#!/bin/sh
# Replays the relay's end-of-data scanner fuzz corpus (run by make check).
exec ./tests/fuzz/fuzz_relay_data "${srcdir:-.}"/tests/fuzz/corpus/relay_data/*
