# pipelines/multi.mk - multi-domain GRPO, as DeepSeek-R1's reinforcement
# learning for all scenarios (arXiv:2501.12948, section 2.3.4): one run
# whose prompts mix domains, each scored by its own reward in one SCORE
# chain where every scorer passes the domains it does not score through
# (posttrain-records(5), the domain rule):
#   math   score-math, the boxed answer against the record's answer (rule)
#   code   score-code, the program run against the record's tests in the
#          bubblewrap sandbox: the fraction passed (rule)
#   other  score-rm, a scalar reward model trained here (model-based; its
#          default domains are all but math and code)
# GRPO's advantages are normalized within a group, the samples of one
# prompt, so rewards of different scales (a fraction of tests, a reward
# model's score) need no common scale.
#
#   make -f pipelines/multi.mk INIT=ckpt/init SFT_DATA=sft.jsonl \
#       PREFS=pairs.jsonl PROMPTS=prompts.jsonl STEPS=40
#
# Files under RUN:
#   sft/               the base: INIT fine-tuned on SFT_DATA (sft.mk, the
#                      SFT_* settings); BASE=DIR takes that checkpoint instead
#   rm/packed.jsonl.zst  PREFS (preference records) packed for update --rm
#   rm/ckpt/           the reward model: the base's body and a scalar head
#                      trained on them (update --rm, the RM_* settings)
#   rm/eval.json       update --rm --eval on RM_HELD (held-out pairs, when
#                      given): the loss and the pairwise accuracy
#   rl/                grpo.mk's files from the base (every grpo.mk setting
#                      passes through: BATCH, G, TEMP, MAXTOK, LR, SEED,
#                      ...); rl/metrics.jsonl has reward_by_domain per step
# Each file is made whole or not at all; "make" again resumes.
INIT ?=
BASE ?=
SFT_DATA ?=
PREFS ?=
RM_HELD ?=
PROMPTS ?=
RUN ?= run/multi
STEPS ?= 10
SFT_EPOCHS ?= 2
SFT_LR ?= 3e-3
SFT_MIN_LR ?= 1e-3
SFT_BATCH ?= 16
SFT_L ?= 1024
SFT_SEED ?= 0
RM_LR ?= 1e-3
RM_EPOCHS ?= 2
RM_BATCH ?= 16
RM_L ?= 1024
# gen's options in GRPO: the base imitates whole responses, so no --think
GEN_OPTS ?=
HERE := $(dir $(lastword $(MAKEFILE_LIST)))
export PATH := $(abspath $(HERE)../bin):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

ifeq ($(strip $(BASE)),)
ifeq ($(strip $(INIT)),)
$(error multi.mk: set INIT=checkpoint directory (and SFT_DATA), or BASE=checkpoint)
endif
ifeq ($(strip $(SFT_DATA)),)
$(error multi.mk: set SFT_DATA=SFT records)
endif
B := $(RUN)/sft/final
else
B := $(BASE)
endif
ifeq ($(strip $(PREFS)),)
$(error multi.mk: set PREFS=preference records)
endif
ifeq ($(strip $(PROMPTS)),)
$(error multi.mk: set PROMPTS=prompt records)
endif

RM := $(RUN)/rm/ckpt
SCORE ?= score-math --extract boxed | score-code | score-rm -m $(abspath $(RM))

all: $(B)/model.safetensors $(RM)/model.safetensors $(if $(RM_HELD),$(RUN)/rm/eval.json)
	@$(MAKE) --no-print-directory -f $(HERE)grpo.mk INIT=$(B) PROMPTS=$(PROMPTS) RUN=$(RUN)/rl \
	    STEPS=$(STEPS) GEN_OPTS="$(GEN_OPTS)" SCORE="$(SCORE)"

$(RUN)/sft/final/model.safetensors: $(SFT_DATA) $(INIT)/model.safetensors
	@$(MAKE) --no-print-directory -f $(HERE)sft.mk INIT=$(INIT) DATA=$(SFT_DATA) RUN=$(RUN)/sft \
	    EPOCHS=$(SFT_EPOCHS) LR=$(SFT_LR) MIN_LR=$(SFT_MIN_LR) BATCH=$(SFT_BATCH) L=$(SFT_L) SEED=$(SFT_SEED)

$(RUN)/rm/packed.jsonl.zst: $(PREFS) $(B)/model.safetensors
	@mkdir -p $(@D)
	pack -m $(B) -L $(RM_L) -q -o $@ $<

$(RM)/model.safetensors: $(RUN)/rm/packed.jsonl.zst
	rm -rf $(RM)
	update -m $(B) -o $(RM) --rm --new-optimizer --lr $(RM_LR) --epochs $(RM_EPOCHS) \
	    --batch $(RM_BATCH) --metrics $(RUN)/rm/metrics.part -q $<
	mv $(RUN)/rm/metrics.part $(RUN)/rm/metrics.jsonl

$(RUN)/rm/eval.json: $(RM)/model.safetensors $(RM_HELD)
	pack -m $(RM) -L $(RM_L) -q $(RM_HELD) | update -m $(RM) --rm --eval > $@.part
	mv $@.part $@

.PHONY: all
