#!/bin/sh
# Replays the config fuzz corpus (run by make check).
exec ./tests/fuzz/fuzz_config "${srcdir:-.}/tests/fuzz/corpus/config"
