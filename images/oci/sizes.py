#!/usr/bin/env python3
"""images/oci/sizes.py ROOT - what each file of the container image's root
tree costs: its size and its gzip -9 size alone (a fair estimate of its
share of the compressed layer), biggest first, with the Debian package it
came from (images/README.md keeps the table of the last measurement).

Regular files only; a symlink costs a tar header (512 bytes, a few bytes
compressed). The total of the gzip column is a little above the real
layer's (each file pays its own gzip header and dictionary warm-up).
"""
import gzip
import os
import subprocess
import sys

root = sys.argv[1]
rows = []
for d, dirs, files in os.walk(root):
    for n in files:
        p = os.path.join(d, n)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        data = open(p, "rb").read()
        rows.append((len(gzip.compress(data, 9, mtime=0)), len(data),
                     "/" + os.path.relpath(p, root)))
rows.sort(reverse=True)


def package(path):
    for cand in (path, path.replace("/usr/lib/", "/lib/", 1)):
        r = subprocess.run(["dpkg", "-S", cand], capture_output=True,
                           text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return "-"


tz = tr = 0
print("| file | bytes | gzip -9 alone | package |")
print("| --- | ---: | ---: | --- |")
for z, r, p in rows:
    tz += z
    tr += r
    print("| `%s` | %d | %d | %s |" % (p, r, z, package(p)))
print("| total (%d files) | %d | %d | |" % (len(rows), tr, tz))
