# pipelines/opd.mk - on-policy distillation of a teacher into a student,
# beside SFT on the teacher's samples, with held-out accuracy per step.
#
#   make -f pipelines/opd.mk TEACHER=ckpt/big STUDENT=ckpt/small \
#       PROMPTS=prompts.jsonl EVAL=heldout.jsonl STEPS=40
#
# On-policy distillation (Agarwal et al. 2024, "On-Policy Distillation of
# Language Models: Learning from Self-Generated Mistakes" (GKD),
# arXiv:2306.13649; Lu and Thinking Machines Lab 2025, "On-Policy
# Distillation", https://thinkingmachines.ai/blog/on-policy-distillation/):
# the student samples, the teacher scores every token the student wrote,
# and the per-token reverse KL, log pi_T(y_t) - log pi_S(y_t), is the
# token's advantage (update --distill).  No reward, no reference model.
# Step NNN of RUN/opd:
#   prompts.jsonl       BATCH prompts of PROMPTS (reproducibly from SEED
#                       and the step, as grpo.mk picks them)
#   samples.jsonl.zst   G samples per prompt from the student of step NNN-1
#   teacher.jsonl.zst   with the teacher's log-probs (logp -m TEACHER)
#   packed.jsonl.zst    training sequences of at most L tokens
#   ckpt/               the student after the step (update --distill)
#   metrics.jsonl       update's metrics (kl: the reverse KL to the teacher)
#
# The baseline, RUN/sft: the same prompts each step, G samples of the
# teacher for each (off-policy, sequence-level distillation), and one SFT
# step of the student on them (update --sft); the same number of
# sequences, a teacher's generation instead of the student's, no teacher
# forward.  Every EVAL_EVERY steps (and before the first) both students
# answer EVAL greedily, scored by SCORE:
#   RUN/ARM/eval-NNN.json  stats(1) of the answers, correct = ACC_KEY >= 1
#   RUN/report.txt         held-out accuracy per step, both arms
# "make opd" and "make sft" run one arm without the evaluations (to time
# them); "make" runs everything.  Every file is written whole, so an
# interrupted run resumes where it stopped, with the same results.
#
# The defaults are those of the README's measured runs (40 steps of 64
# prompts x 1 sample at temperature 1, LR 1e-4 in both arms), but for
# MAXTOK (64 there): one sample a prompt is enough for distillation, and
# more prompts a step put the on-policy student ahead of SFT from step 20
# on (16 x 4 left it behind; at LR 1e-3 both students first lost accuracy).
# Settings (make VAR=value):
TEACHER ?=
STUDENT ?=
PROMPTS ?=
EVAL ?=
RUN ?= run/opd
STEPS ?= 40
BATCH ?= 64
G ?= 1
TEMP ?= 1.0
MAXTOK ?= 256
SEED ?= 1
L ?= 1024
LR ?= 1e-4
SFT_LR ?= $(LR)
EVAL_EVERY ?= 10
GEN_OPTS ?= --think
SCORE ?= score-math --extract boxed
ACC_KEY ?= rewards.math
# passed to update in both arms
UPDATE_OPTS ?=

HERE := $(dir $(lastword $(MAKEFILE_LIST)))
export PATH := $(abspath $(HERE)../bin):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

ifeq ($(strip $(TEACHER)),)
$(error opd.mk: set TEACHER=checkpoint directory)
endif
ifeq ($(strip $(STUDENT)),)
$(error opd.mk: set STUDENT=checkpoint directory)
endif
ifeq ($(strip $(PROMPTS)),)
$(error opd.mk: set PROMPTS=prompt records)
endif

PAIRS := $(shell sh $(HERE)lib.sh pairs $(STEPS))
STEP_NUMS := $(shell sh $(HERE)lib.sh steps $(STEPS))
LAST := $(lastword $(STEP_NUMS))
# 000, every EVAL_EVERY-th step, and the last
EVAL_NUMS := $(shell for s in $(STEP_NUMS); do n=$$(expr $$s + 0); \
	[ $$((n % $(EVAL_EVERY))) -ne 0 ] && [ $$s != $(LAST) ] || printf '%s ' $$s; done | sed 's/^/000 /')

all: $(RUN)/report.txt
	@cat $<

opd: $(RUN)/opd/step-$(LAST)/ckpt/model.safetensors
sft: $(RUN)/sft/step-$(LAST)/ckpt/model.safetensors

ckpt = $(if $(filter 000,$(2)),$(STUDENT),$(RUN)/$(1)/step-$(2)/ckpt)
seed = $$$$(( $(SEED) * 100003 + 10\#$(1) ))
# the first step starts a fresh optimizer over STUDENT
first = $(if $(filter 000,$(1)),--new-optimizer)

define step
$(RUN)/%/step-$(1)/prompts.jsonl: $(PROMPTS)
	@mkdir -p $$(@D)
	sh $(HERE)lib.sh pick $(SEED) $(1) $(BATCH) $$< > $$@.part && mv $$@.part $$@

# on-policy: the student samples, the teacher scores its tokens
$(RUN)/opd/step-$(1)/samples.jsonl.zst: $(RUN)/opd/step-$(1)/prompts.jsonl $(call ckpt,opd,$(2))/model.safetensors
	gen -m $(call ckpt,opd,$(2)) -G $(G) -T $(TEMP) -n $(MAXTOK) --seed $(call seed,$(1)) \
	    $(GEN_OPTS) -q -o $$@ $$<

$(RUN)/opd/step-$(1)/teacher.jsonl.zst: $(RUN)/opd/step-$(1)/samples.jsonl.zst $(TEACHER)/model.safetensors
	logp -m $(TEACHER) -q -o $$@ $$<

$(RUN)/opd/step-$(1)/packed.jsonl.zst: $(RUN)/opd/step-$(1)/teacher.jsonl.zst
	pack -L $(L) --truncate -q -o $$@ $$<

$(RUN)/opd/step-$(1)/ckpt/model.safetensors: $(RUN)/opd/step-$(1)/packed.jsonl.zst $(call ckpt,opd,$(2))/model.safetensors
	rm -rf $(RUN)/opd/step-$(1)/ckpt
	update -m $(call ckpt,opd,$(2)) -o $(RUN)/opd/step-$(1)/ckpt --distill --lr $(LR) \
	    --metrics $(RUN)/opd/step-$(1)/metrics.part $(call first,$(2)) $(UPDATE_OPTS) -q $$<
	mv $(RUN)/opd/step-$(1)/metrics.part $(RUN)/opd/step-$(1)/metrics.jsonl

# off-policy: the teacher samples, the student imitates
$(RUN)/sft/step-$(1)/samples.jsonl.zst: $(RUN)/sft/step-$(1)/prompts.jsonl $(TEACHER)/model.safetensors
	gen -m $(TEACHER) -G $(G) -T $(TEMP) -n $(MAXTOK) --seed $(call seed,$(1)) \
	    $(GEN_OPTS) -q -o $$@ $$<

$(RUN)/sft/step-$(1)/packed.jsonl.zst: $(RUN)/sft/step-$(1)/samples.jsonl.zst
	pack -L $(L) --truncate -q -o $$@ $$<

$(RUN)/sft/step-$(1)/ckpt/model.safetensors: $(RUN)/sft/step-$(1)/packed.jsonl.zst $(call ckpt,sft,$(2))/model.safetensors
	rm -rf $(RUN)/sft/step-$(1)/ckpt
	update -m $(call ckpt,sft,$(2)) -o $(RUN)/sft/step-$(1)/ckpt --sft --batch 0 --epochs 1 \
	    --no-shuffle --lr $(SFT_LR) --schedule constant \
	    --metrics $(RUN)/sft/step-$(1)/metrics.part $(call first,$(2)) $(UPDATE_OPTS) -q $$<
	mv $(RUN)/sft/step-$(1)/metrics.part $(RUN)/sft/step-$(1)/metrics.jsonl
endef
$(foreach p,$(PAIRS),$(eval $(call step,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

# held-out accuracy: greedy, the answers scored
define evaluate
$(RUN)/$(1)/eval-$(2).json: $(call ckpt,$(1),$(2))/model.safetensors $(EVAL)
	@mkdir -p $$(@D)
	gen -m $(call ckpt,$(1),$(2)) -T 0 -n $(MAXTOK) $(GEN_OPTS) -q $(EVAL) | $(SCORE) -q \
	    | stats -j -q --reward $(ACC_KEY) > $$@.part && mv $$@.part $$@
EVALS += $(RUN)/$(1)/eval-$(2).json
endef
ifneq ($(strip $(EVAL)),)
$(foreach a,opd sft,$(foreach s,$(EVAL_NUMS),$(eval $(call evaluate,$(a),$(s)))))
endif

# step, held-out accuracy of both students, the reverse KL to the teacher
# of the on-policy student's samples
$(RUN)/report.txt: $(EVALS) $(RUN)/opd/step-$(LAST)/ckpt/model.safetensors $(RUN)/sft/step-$(LAST)/ckpt/model.safetensors
	{ printf '%-6s %12s %12s %10s\n' step on-policy sft "opd kl"; \
	  for s in $(if $(strip $(EVAL)),$(EVAL_NUMS),$(STEP_NUMS)); do \
	    a=$$(jq -r '.accuracy * 1000 | round / 10 | tostring + "%"' $(RUN)/opd/eval-$$s.json 2>/dev/null || echo -); \
	    b=$$(jq -r '.accuracy * 1000 | round / 10 | tostring + "%"' $(RUN)/sft/eval-$$s.json 2>/dev/null || echo -); \
	    k=$$(jq -r '.kl * 10000 | round / 10000' $(RUN)/opd/step-$$s/metrics.jsonl 2>/dev/null || echo -); \
	    printf '%-6s %12s %12s %10s\n' $$((10#$$s)) "$$a" "$$b" "$$k"; done; } > $@.part && mv $@.part $@

.PHONY: all opd sft
