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
# A record of the session of 2026-11-26: its --init was the shipped file of then
# (flow-small-evidence, `git show 7e0d4f7:models/dsepconv.safetensors`); the shipped file now
# has light heads, which this configuration refuses, so its two runs from it fail today
# (tried on the CPU, 2026-11-29). experiments/gpu_finetune.sh is the session for that file.
BUDGET=${BUDGET:-560}     # seconds from the start by which everything is in $OUT
COMMON="--config flow-small-evidence --bank-cache /tmp/banks --triplets-per-source ${TRIPLETS:-80} --synthetic-occlusions 8 --synthetic-pool ${POOL:-1000}"
RUN_OPTIONS="--flip-weight 0 --gradient-weight 0 --offset-weight 0.01"
source experiments/gpu_session.sh
prepare 45
train shipped-census --init models/dsepconv.safetensors --lr 2e-4 --census-weight 0.5 &
train shipped --init models/dsepconv.safetensors --lr 2e-4 &
train start-census --lr 5e-4 --census-weight 0.5 &
wait
collect shipped-census shipped start-census
