#!/usr/bin/env bash
# Remake what README.md and BUILD_NOTES.md show of the shipped model, after it changes: the gallery, the
# plate-resolution picture, the relit GIFs, the depth tail's picture, the Blender picture and "Benchmarks" (written
# into BUILD_NOTES.md), and the reports the hand-written figures come from (real photos, plate scales, temporal
# checks, the held-out renders), in REPORTS. The held-out renders are the records "Benchmarks" measures too.
#
#   bash docs/refresh.sh [REPORTS] [SHOTS]      (defaults ../data/refresh and ../data/shots)
#
# The shots (BUILD_NOTES.md "Temporal mode" and "Matchmove camera": seeds 18 and 19 tune, 24 and 25 are held out)
# are rendered into SHOTS, keeping the frames already there. Run it on a quiet machine: the benchmarks time
# everything (their "Model quality" is the weights', the rest the architecture's).
set -euo pipefail
cd "$(dirname "$0")/.."
REPORTS="${1:-../data/refresh}"
SHOTS="${2:-../data/shots}"
export DRJIT_LIBLLVM_PATH="${DRJIT_LIBLLVM_PATH:-/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1}"
mkdir -p "$REPORTS"

step() { echo "$(date +%T) $*" >&2; }

render_shots() {  # render_shots DIR SEED [flags]: 16 frames at 256² (frames already complete are kept)
  local dir=$1 seed=$2; shift 2
  python -m data_tools.render_shots --output_dir="$dir" --num_frames=16 --resolution=256 --seed="$seed" "$@"
}

step "shots"
render_shots "$SHOTS/shots256" 18 --num_shots=6
render_shots "$SHOTS/shots256pan" 19 --num_shots=2 --camera_paths=pan,orbit --moving_share=0.5
render_shots "$SHOTS/shots24/shots256" 24 --num_shots=6
render_shots "$SHOTS/shots24/shots256pan" 25 --num_shots=2 --camera_paths=pan,orbit --moving_share=0.5

step "real photos and the gallery"
python -m tfnormals.evaluate --real_checks --output_json="$REPORTS/real.json" --gallery=docs/gallery.png
step "plate scales and their picture"
python -m tfnormals.evaluate --scale_checks --output_json="$REPORTS/scale.json" \
  --scale_gallery=docs/plate_resolution.png --scale_gallery_plate=docs/plates/interior_2048.jpg
step "temporal checks"
python -m tfnormals.evaluate --shots="$SHOTS/shots256,$SHOTS/shots256pan" --temporal_matchmove --temporal_mattes \
  --output_json="$REPORTS/temporal_tune.json"
python -m tfnormals.evaluate --shots="$SHOTS/shots24/shots256,$SHOTS/shots24/shots256pan" --temporal_matchmove \
  --temporal_mattes --output_json="$REPORTS/temporal_held.json"
python -m tfnormals.evaluate --temporal_checks --output_json="$REPORTS/temporal_plates.json"
step "GIFs"
python docs/make_relit_gif.py --shot="$SHOTS/shots256/shot00004" --output=docs/temporal_relight.gif
python docs/make_relit_gif.py --shot="$SHOTS/shots24/shots256/shot00000" --output=docs/matchmove_mattes.gif \
  --methods=temporal_matchmove,temporal_matchmove_mattes
step "held-out renders and the depth tail's picture"
python -m tfnormals.evaluate --records=../data/records_layout_b --split=test --mode=fused \
  --output_json="$REPORTS/held_out.json"
python docs/make_depth_tail.py --report="$REPORTS/held_out.json" --count=3 --output=docs/depth_tail.png
step "the Blender picture"
BLENDER_PYTHON="${TFNORMALS_BLENDER_PYTHON:-$HOME/.cache/tfnormals/blender-venv/bin/python}"
TFNORMALS_BLENDER_PYTHON="$BLENDER_PYTHON" TFNORMALS_UPDATE_DOCS=1 python -m pytest -q -p no:cacheprovider \
  tests/blender/test_blender_relight.py
step "benchmarks (into BUILD_NOTES.md)"
python -m benchmarks 2>&1 | tee "$REPORTS/benchmarks.log"
step "done: reports in $REPORTS"
