#!/bin/sh
# Replays the query fuzz corpus (run by make check).
exec ./tests/fuzz/fuzz_query "${srcdir:-.}/tests/fuzz/corpus/query"
