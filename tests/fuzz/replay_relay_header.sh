#!/bin/sh
# Replays the relay's header-block scanner fuzz corpus (run by make check).
exec ./tests/fuzz/fuzz_relay_header "${srcdir:-.}"/tests/fuzz/corpus/relay_header/*
