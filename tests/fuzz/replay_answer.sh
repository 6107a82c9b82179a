#!/bin/sh
# Replays the answer fuzz corpus (run by make check).
exec ./tests/fuzz/fuzz_answer "${srcdir:-.}/tests/fuzz/corpus/answer"
