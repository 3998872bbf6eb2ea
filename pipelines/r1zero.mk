# pipelines/r1zero.mk - DeepSeek-R1-Zero: reinforcement learning straight
# from a base checkpoint, with rule-based rewards only (accuracy and
# format): no SFT, no worked example in the prompt.  It is grpo.mk with
# R1-Zero's settings:
#   - R1-Zero's template: plain text without chat markers (FORMAT=text,
#     gen -f text: "SYSTEM\nUser: PROMPT\nAssistant: <think>\n"), the
#     system prompt SYSTEM (default prompts/r1zero-system.txt) telling the
#     model to reason inside <think> </think> and to give the answer in
#     \boxed{}; FORMAT=auto renders it with the checkpoint's chat format;
#   - rewards: score-math (the boxed answer; score-code for code prompts)
#     + score-format (<think>...</think> then an answer, boxed for math);
#   - no KL penalty (BETA=0) and no reference model, a constant learning
#     rate.
#
#   make -f pipelines/r1zero.mk BASE=ckpt/base PROMPTS=prompts.jsonl STEPS=100
#
# Every other grpo.mk setting passes through (BATCH, G, TEMP, MAXTOK, LR,
# L, SEED, PARALLEL, MPIRUN, ...); the files are grpo.mk's, under RUN.
BASE ?=
PROMPTS ?=
RUN ?= run/r1zero
STEPS ?= 10
HERE := $(dir $(lastword $(MAKEFILE_LIST)))
SYSTEM ?= $(abspath $(HERE)prompts/r1zero-system.txt)
FORMAT ?= text
SCORE ?= score-math --extract boxed | score-code | score-format --domain math --boxed \
	| score-format --domain code

ifeq ($(strip $(BASE)),)
$(error r1zero.mk: set BASE=checkpoint directory)
endif

all:
	@$(MAKE) --no-print-directory -f $(HERE)grpo.mk INIT=$(BASE) PROMPTS=$(PROMPTS) RUN=$(RUN) \
	    STEPS=$(STEPS) GEN_OPTS="--think -f $(FORMAT) --system $(SYSTEM)" SCORE="$(SCORE)" BETA=0 \
	    ACC_KEY=rewards.math

.PHONY: all
