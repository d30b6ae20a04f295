#!/bin/sh
# The README's adaptation table: `dsepconv adapt` for 5 minutes on each clip, one after the
# other (nothing else running), the models in ${OUT_DIR:-runs/adapt}/.
# usage: sh experiments/adapt_table.sh [MINUTES]
set -u
D=../shared/data/train
mkdir -p "${OUT_DIR:-runs/adapt}"
for clip in $D/clips/sam2-01_dog.mp4 $D/clips/moviepy-airplane.mp4 $D/clips/mmaction2-test.mp4 \
            $D/davis2016-val/libby $D/davis2016-val/car-roundabout $D/davis2016-val/breakdance; do
    name=$(basename "$clip" | sed 's/\.[a-z0-9]*$//')
    .venv/bin/dsepconv adapt "$clip" -o "${OUT_DIR:-runs/adapt}/$name.safetensors" --minutes "${1:-5}" --overwrite 2>/dev/null
done
