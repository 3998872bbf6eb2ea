# pipelines/r1zero.mk - DeepSeek-R1-Zero: reinforcement learning straight
# from a base checkpoint, with rule-based rewards only (accuracy and
# format), no SFT.  It is grpo.mk with R1-Zero's settings:
#   - the assistant turn opens with <think>, so the model reasons first;
#   - rewards: score-math (the boxed answer) + score-format (<think>...</think>
#     then an answer), or score-code for code prompts;
#   - no KL penalty by default (BETA=0), a constant learning rate.
#
#   make -f pipelines/r1zero.mk BASE=ckpt/base PROMPTS=prompts.jsonl STEPS=100
BASE ?=
PROMPTS ?=
RUN ?= run/r1zero
STEPS ?= 10
HERE := $(dir $(lastword $(MAKEFILE_LIST)))

ifeq ($(strip $(BASE)),)
$(error r1zero.mk: set BASE=checkpoint directory)
endif

all:
	$(MAKE) --no-print-directory -f $(HERE)grpo.mk INIT=$(BASE) PROMPTS=$(PROMPTS) RUN=$(RUN) STEPS=$(STEPS) \
	    GEN_OPTS=--think SCORE="score-math --extract boxed | score-code | score-format" BETA=0 \
	    $(R1ZERO_VARS)

.PHONY: all
