#!/usr/bin/env python3
"""images/oci/pack.py ROOT OUT IMAGE_JSON - one-layer image of ROOT, written
reproducibly as OUT/danegate-oci.tar (OCI image layout 1.0) and
OUT/danegate-docker.tar (docker-archive, for docker/podman load).

Same ROOT and SOURCE_DATE_EPOCH, same bytes: the layer tar is sorted, every
mtime is SOURCE_DATE_EPOCH, owners are numeric, zstd runs single-threaded
(its output depends only on its input, level and version), and the
config's dates are SOURCE_DATE_EPOCH.

The OCI layer is zstd --ultra -22 (image-spec 1.1
application/vnd.oci.image.layer.v1.tar+zstd: podman >= 4, containerd >=
1.5, Docker >= 23, skopeo), 18 % smaller than gzip -9 (images/README.md
has the figures). Its window is the whole tar (zstd fits it to the known
size, a single segment), so matches reach across libraries; below 128 MiB
every decoder's default limit takes it. The docker-archive keeps its layer
uncompressed: docker/podman load take that everywhere. IMAGE_JSON is the container
config (Cmd, User, Volumes...); its Healthcheck goes into the docker
config only, as the OCI config has no such field (an annotation names it).
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

root, out, image_json = sys.argv[1:4]
epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def layer_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        paths = []
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for n in dirs + sorted(files):
                paths.append(os.path.join(d, n))
        for p in sorted(paths, key=lambda s: os.path.relpath(s, root)):
            ti = t.gettarinfo(p, arcname=os.path.relpath(p, root))
            ti.mtime = epoch
            ti.uname = ti.gname = ""
            ti.pax_headers = {}
            if ti.isfile():
                with open(p, "rb") as f:
                    t.addfile(ti, f)
            else:
                t.addfile(ti)
    return buf.getvalue()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def dumps(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()


raw = layer_tar()
# --stream-size: the frame gets the tar's size, so zstd fits its window
# to it (at most 2^27, -22's window) and says so in the header.
zst = subprocess.run(["zstd", "-q", "--single-thread", "--ultra", "-22",
                      "--stream-size=%d" % len(raw), "-c"],
                     input=raw, stdout=subprocess.PIPE, check=True).stdout

cfg = json.load(open(image_json))
health = cfg.pop("Healthcheck", None)
history = [{"created": created, "created_by": "images/build oci"}]
rootfs = {"type": "layers", "diff_ids": ["sha256:" + sha(raw)]}
oci_cfg = dict(cfg)
oci_cfg["Labels"] = dict(cfg.get("Labels", {}))
if health:
    oci_cfg["Labels"]["org.danegate.healthcheck"] = " ".join(health["Test"][1:])
config = dumps({"created": created, "architecture": "amd64", "os": "linux",
                "config": oci_cfg, "rootfs": rootfs, "history": history})
manifest = dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + sha(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                "digest": "sha256:" + sha(zst), "size": len(zst)}]})
index = dumps({
    "schemaVersion": 2,
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + sha(manifest), "size": len(manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "latest"}}]})


def write_tar(path, members):
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = epoch
            ti.mode = 0o644
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    os.replace(tmp, path)


blobs = sorted([(sha(config), config), (sha(manifest), manifest), (sha(zst), zst)])
write_tar(os.path.join(out, "danegate-oci.tar"),
          [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
           ("index.json", index), ("blobs/", None), ("blobs/sha256/", None)]
          + [("blobs/sha256/" + h, b) for h, b in blobs])

dcfg_c = dict(cfg)
if health:
    dcfg_c["Healthcheck"] = health
dconfig = dumps({"created": created, "architecture": "amd64", "os": "linux",
                 "config": dcfg_c, "rootfs": rootfs, "history": history})
dman = dumps([{"Config": sha(dconfig) + ".json",
               "RepoTags": ["danegate:latest"],
               "Layers": [sha(raw) + "/layer.tar"]}])
write_tar(os.path.join(out, "danegate-docker.tar"),
          [(sha(dconfig) + ".json", dconfig), (sha(raw) + "/", None),
           (sha(raw) + "/layer.tar", raw), ("manifest.json", dman)])

print("manifest digest sha256:%s layer %d bytes zstd, %d uncompressed"
      % (sha(manifest), len(zst), len(raw)))
