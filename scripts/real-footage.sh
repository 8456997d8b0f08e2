#!/usr/bin/env bash
# Real footage for tests and benchmarks, taken from a package in the Python registry: the source
# distribution of moviepy 2.2.1 ships, in its docs, Big Buck Bunny (c) Blender Foundation, CC BY 3.0:
#   trailer_bbb.mp4  55 s, 1280x720, 24 fps, H.264 + MP3 stereo (the trailer)
#   bbb.mp4          9 min 56 s, 1280x720, 24 fps, H.264 (541 kbit/s) + AAC stereo (the whole film)
# Both are animation; real camera footage has still to be found in the same way.
# (A copy of shared/corpus/real-footage.sh, so that a fresh clone has it.)
# usage: real-footage.sh DIR    -> DIR/trailer_bbb.mp4 and DIR/bbb.mp4; does nothing when both exist.
set -euo pipefail
dir=${1:?usage: real-footage.sh DIR}
mkdir -p "$dir"
[ -s "$dir/trailer_bbb.mp4" ] && [ -s "$dir/bbb.mp4" ] && exit 0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --no-binary :all: -q -d "$tmp" moviepy==2.2.1
python3 - "$tmp"/moviepy-2.2.1.tar.gz "$dir" <<'PY'
import io, sys, tarfile, zipfile
sdist, out = sys.argv[1], sys.argv[2]
base = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/"
with tarfile.open(sdist) as t:
    open(f"{out}/trailer_bbb.mp4", "wb").write(t.extractfile(base + "trailer_bbb.mp4").read())
    z = zipfile.ZipFile(io.BytesIO(t.extractfile(base + "moviepy_10_minutes.zip").read()))
    open(f"{out}/bbb.mp4", "wb").write(z.read("moviepy_10_minutes/resources/bbb.mp4"))
PY
ls -l "$dir"/trailer_bbb.mp4 "$dir"/bbb.mp4
