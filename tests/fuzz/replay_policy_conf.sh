#!/bin/sh
# Replays the policy configuration fuzz corpus (run by make check). The files
# are named one by one: given a directory, a libFuzzer build would start
# fuzzing into it.
exec ./tests/fuzz/fuzz_policy_conf "${srcdir:-.}"/tests/fuzz/corpus/policy_conf/*
