# What every GPU session script here shares (sourced by gpu_train.sh and gpu_finetune.sh, run
# from the repository root on a lent machine): the clock, $OUT and its log, the machine in the
# log, the bank's preparation on every core, training runs side by side on the one GPU, and
# each run's best and last weights brought back. The caller sets BUDGET (seconds from the
# start by which everything is in $OUT), COMMON (the train options every step shares) and
# RUN_OPTIONS (those of the training runs), then calls prepare, train (in the background,
# one per variant), wait, and collect.
set -u
START=$(date +%s)
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
LOG=$OUT/log.txt
DATA=${DATA:-runs/gpu-data/clips runs/gpu-data/davis}
{ nvidia-smi --query-gpu=name,memory.total --format=csv; nproc
  python3 -c 'import torch, cv2, numpy; print(torch.__version__, cv2.__version__, numpy.__version__)'; } >>"$LOG" 2>&1

prepare() {  # seconds to keep for collecting, then options beyond COMMON; sets LEFT
    local keep=$1; shift
    python3 -m dsepconv_gui.cli train $DATA $COMMON "$@" --run-dir /tmp/prep --prepare-only \
        --workers "$(nproc)" >>"$LOG" 2>&1 || { echo "preparation failed" >>"$LOG"; exit 1; }
    LEFT=$(( BUDGET - ($(date +%s) - START) - keep ))
    echo "prepared in $(( $(date +%s) - START )) s; training for $LEFT s" >>"$LOG"
    [ "$LEFT" -gt 30 ] || { echo "no time left to train" >>"$LOG"; exit 1; }
}

train() {  # name, then the run's own options
    local name=$1; shift
    python3 -m dsepconv_gui.cli train $DATA $COMMON --run-dir "/tmp/run-$name" \
        --device "${DEVICE:-cuda}" --threads 2 --loader-workers 4 --batch-size 32 \
        --iterations 1000000 --time-limit "$LEFT" --validate-every 250 --checkpoint-every 250 \
        $RUN_OPTIONS "$@" >"/tmp/$name.log" 2>&1
}

collect() {  # the runs' names: their logs' ends into $LOG, best and last weights into $OUT
    local name
    for name in "$@"; do
        { echo "== $name"; grep -v '^\[' "/tmp/$name.log" | tail -40; grep '^\[' "/tmp/$name.log" | tail -2; } >>"$LOG"
        cp "/tmp/run-$name/best.safetensors" "$OUT/$name-best.safetensors" 2>>"$LOG"
        cp "/tmp/run-$name/last.safetensors" "$OUT/$name-last.safetensors" 2>>"$LOG"
    done
    echo "done in $(( $(date +%s) - START )) s" >>"$LOG"
}
