#!/bin/sh
# Replays the oauth2_token fuzz corpus (run by make check). The files are named
# one by one: given a directory, a libFuzzer build would start fuzzing into it.
exec ./tests/fuzz/fuzz_oauth2_token "${srcdir:-.}"/tests/fuzz/corpus/oauth2_token/*
