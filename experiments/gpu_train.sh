#!/usr/bin/env bash
# One training session on a lent GPU machine (16 cores, one GPU), in one command of at most
# 10 minutes: prepare the triplet bank on every core, then train several variants side by
# side on the one GPU until a shared deadline, and leave each variant's best and last weights
# and the logs in $OUT.
#
#   experiments/gpu_data.sh                       # here, once: runs/gpu-data (49 MB)
#   device run (carry runs/gpu-data): bash experiments/gpu_train.sh
#
# The data: ../shared/data/train's clips as they are and its DAVIS sequences as 640×360
# H.264 (yuv444p, crf 17; the bank reads them at that size anyway), so that they fit the
# 64 MiB a device call carries. The machine runs the code with its own python3 and torch.
set -u
START=$(date +%s)
BUDGET=${BUDGET:-560}     # seconds from START by which everything is in $OUT
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
LOG=$OUT/log.txt
DATA=${DATA:-runs/gpu-data/clips runs/gpu-data/davis}
COMMON="--config flow-small-evidence --bank-cache /tmp/banks --triplets-per-source ${TRIPLETS:-80} --synthetic-occlusions 8 --synthetic-pool ${POOL:-1000}"
{ nvidia-smi --query-gpu=name,memory.total --format=csv; nproc; python3 -c 'import torch, cv2, numpy; print(torch.__version__, cv2.__version__, numpy.__version__)'; } >>"$LOG" 2>&1
python3 -m dsepconv_gui.cli train $DATA $COMMON --run-dir /tmp/prep --prepare-only --workers "$(nproc)" >>"$LOG" 2>&1 \
    || { echo "preparation failed" >>"$LOG"; exit 1; }
LEFT=$(( BUDGET - ($(date +%s) - START) - 45 ))
echo "prepared in $(( $(date +%s) - START )) s; training for $LEFT s" >>"$LOG"
train() {  # name, then options
    local name=$1; shift
    python3 -m dsepconv_gui.cli train $DATA $COMMON --run-dir "/tmp/run-$name" --device "${DEVICE:-cuda}" --threads 2 \
        --loader-workers 4 --batch-size 32 --iterations 1000000 --time-limit "$LEFT" --validate-every 250 \
        --checkpoint-every 250 --flip-weight 0 --gradient-weight 0 --offset-weight 0.01 "$@" >"/tmp/$name.log" 2>&1
}
train shipped-census --init models/dsepconv.safetensors --lr 2e-4 --census-weight 0.5 &
train shipped --init models/dsepconv.safetensors --lr 2e-4 &
train start-census --lr 5e-4 --census-weight 0.5 &
wait
for name in shipped-census shipped start-census; do
    { echo "== $name"; grep -v '^\[' "/tmp/$name.log" | tail -40; grep '^\[' "/tmp/$name.log" | tail -2; } >>"$LOG"
    cp "/tmp/run-$name/best.safetensors" "$OUT/$name-best.safetensors" 2>>"$LOG"
    cp "/tmp/run-$name/last.safetensors" "$OUT/$name-last.safetensors" 2>>"$LOG"
done
echo "done in $(( $(date +%s) - START )) s" >>"$LOG"
