# pipelines/grpo.mk - the GRPO loop, one directory per step.
#
#   make -f pipelines/grpo.mk INIT=ckpt/sft PROMPTS=prompts.jsonl STEPS=20
#
# Step NNN samples BATCH prompts of PROMPTS (reproducibly from SEED and the
# step number), then
#   gen -> the scorers -> advantage -> logp (when BETA > 0) -> pack -> update
# keeping every intermediate file of the step:
#   RUN/step-NNN/prompts.jsonl        the prompts of the step (REFILL=1: those
#                                     it may draw, in order)
#   RUN/step-NNN/samples.jsonl.zst    G samples per prompt, from the previous policy
#   RUN/step-NNN/scored.jsonl.zst     with rewards (SCORE: every scorer passes
#                                     the domains it does not score through)
#   RUN/step-NNN/adv.jsonl.zst        with advantages (and ref_logprobs if BETA > 0)
#   RUN/step-NNN/packed.jsonl.zst     training sequences of at most L tokens
#   RUN/step-NNN/ckpt/                the policy after the step
#   RUN/step-NNN/metrics.jsonl        update's metrics
#   RUN/step-NNN/stats.json           stats of the scored samples
#   RUN/step-NNN/accuracy.json        the same, correct = ACC_KEY >= 1
#   RUN/step-NNN/groups.json          draws: the prompts sampled, groups: those
#                                     whose rewards are not all equal
#   RUN/metrics.jsonl                 one line per step: reward, accuracy, draws, KL, ...
#   RUN/plots/*.png                   those, per step (gnuplot)
# Every file is written whole or not at all, so an interrupted run resumes
# at the first missing file with "make" again, with identical results
# (gen's samples depend only on SEED, the step and the policy).  Steps
# depend on each other, so "make -j" is safe and speeds up nothing but
# independent work inside a step.
#
# One-step off-policy (asynchronous) RL: with ASYNC=1, step n samples with
# the policy of step n-2 instead of n-1, so "make -j2 ASYNC=1" runs the
# sampling of step n+1 while step n updates (on 2 shared cores both on
# their default threads were the fastest, README).  Each sample records the policy it
# came from (gen's policy_step).  The importance correction is ASYNC_OPTS,
# by default "--is off": the samples' own log-probs are the old policy of
# PPO's ratio, clipped against the policy that drew them, as in PPO itself
# (Noukhovitch et al. 2024, "Asynchronous RLHF", arXiv:2410.18252).
# ASYNC_OPTS="--is token" instead recomputes the old log-probs under n-1
# and weighs the tokens by truncated importance sampling (Yao et al. 2025,
# "Your efficient RL framework secretly brings you off-policy RL
# training"), which leaves the first pass no trust region: on the demo
# task it collapsed in two of four seeds where "--is off" learned faster
# than the synchronous loop (README, "One-step off-policy GRPO").  The
# staleness bound (advantage --min-policy-step) refuses samples older than
# step n-2.
#
# Dynamic sampling with refill (DAPO's, section 3.2): with REFILL=1 a step
# draws its prompts in the order of prompts.jsonl (the first MAX_DRAWS of
# the step's reproducible choice), samples and scores them in rounds of as
# many prompts as are still missing, and stops when BATCH groups are not
# uniform (their rewards not all equal: a uniform group's advantages are 0
# and it teaches nothing); advantage --drop-uniform leaves the uniform ones
# out, so every step trains on BATCH groups (fewer only when MAX_DRAWS
# prompts did not give them, said on standard error).  samples and scored
# hold every drawn prompt's samples; the step's metrics line has draws (the
# prompts sampled) and groups (those not uniform) in either mode.  A
# sample's seed depends on SEED, the step, the prompt id and k only, so the
# rounds sample what one gen call over the same prompts would.
#
# Settings (make VAR=value):
INIT ?=
PROMPTS ?=
REF ?= $(INIT)
RUN ?= run/grpo
STEPS ?= 10
BATCH ?= 32
G ?= 8
# gen -T; logp and update read it from the samples' sampling object
TEMP ?= 1.0
MAXTOK ?= 256
SEED ?= 1
L ?= 1024
BETA ?= 0
LR ?= 1e-6
GEN_OPTS ?= --think
# The reward that says "correct" in the accuracy column.
ACC_KEY ?= reward
SCORE ?= score-math --extract boxed | score-format
ADV_OPTS ?=
PACK_OPTS ?= --truncate
UPDATE_OPTS ?=
# The matrix products' precision, the same in gen, logp and update so the
# sampler's log-probs stay the trainer's: f32, or bf16 (gen/logp --dtype,
# update --compute-dtype)
DTYPE ?= f32
# (not given when f32, so GEN may be a gen --server)
DTYPE_OPT = $(if $(filter-out f32,$(DTYPE)),--dtype $(DTYPE))
# The first step starts a fresh optimizer over INIT (whose state, if any,
# belongs to the SFT run that made it).
FIRST_OPTS ?= --new-optimizer
# 1: sample step n with the policy of step n-2 (see above)
ASYNC ?= 0
# Under ASYNC=1 (and make -j2) gen decodes on ASYNC_GEN_THREADS threads
# (POSTTRAIN_THREADS of its command) beside an update on the threads it
# has anyway; empty (the default): gen's own default.  (1 on 2 cores was
# slower: the sampling is on the critical path too.)
ASYNC_GEN_THREADS ?=
# update's importance correction of the stale samples under ASYNC=1
ASYNC_OPTS ?= --is off
# 1: dynamic sampling with refill (see above), drawing at most MAX_DRAWS
# prompts a step
REFILL ?= 0
MAX_DRAWS ?= $(shell echo $$(( 4 * $(BATCH) )))
# GEN runs the sampler.
GEN ?= gen
# Scale-out (posttrain(7), RUNNING ON A CLUSTER).  PARALLEL shards gen,
# the scorers and logp: each command runs as PARALLEL "COMMAND" over the
# records, whose order is kept, and the output is the same bytes as
# without (a sample's seed depends only on SEED, the step, the prompt id
# and k; advantage runs after the merge, on whole groups), e.g.
#   PARALLEL = parallel --pipe --keep-order -N 4 -j 2
#   PARALLEL = parallel --pipe --keep-order -N 4 --env PATH --workdir $(CURDIR) \
#              --sshlogin 2/node1,2/node2
# MPIRUN starts update data-parallel (its result: the one-process one up
# to float summation order, so later steps sample from a policy a few ulps
# away; the same MPIRUN again gives the same bytes), e.g.
#   MPIRUN = mpirun -np 8 --hostfile hosts -x PATH
PARALLEL ?=
MPIRUN ?=
# GNU parallel takes $PARALLEL from its environment as options.
unexport PARALLEL

HERE := $(dir $(lastword $(MAKEFILE_LIST)))
export PATH := $(abspath $(HERE)../bin):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

# Without PARALLEL the tools write their files whole themselves (-o);
# with it, the merged output goes through FILE.part, renamed when complete.
SHARDED := $(strip $(PARALLEL))
# Writes standard input to the file named next; an error names it
# ("dd: error writing 'FILE.part': No space left on device").
PUT = dd bs=64k status=none of=

ifeq ($(strip $(INIT)),)
$(error grpo.mk: set INIT=checkpoint directory)
endif
ifeq ($(strip $(PROMPTS)),)
$(error grpo.mk: set PROMPTS=prompt records)
endif

PAIRS := $(shell sh $(HERE)lib.sh pairs $(STEPS))
STEP_NUMS := $(shell sh $(HERE)lib.sh steps $(STEPS))
LAST := $(RUN)/step-$(lastword $(shell sh $(HERE)lib.sh steps $(STEPS)))

all: $(RUN)/plots/.done
	@echo "grpo: $(STEPS) steps in $(RUN); the policy is $(LAST)/ckpt"

ckpt = $(if $(filter 000,$(1)),$(INIT),$(RUN)/step-$(1)/ckpt)
# The step whose policy samples step $(1) (its previous one is $(2), the
# one before that $(3)).
sampler = $(if $(filter 1,$(ASYNC)),$(3),$(2))
# The staleness bound of step $(1): its samples are of the sampler's
# policy or a newer one (none when the sampler is INIT).
stale_bound = $(if $(filter 000,$(call sampler,$(1),$(2),$(3))),,--min-policy-step \
	$$$$(jq .global_step $(call ckpt,$(call sampler,$(1),$(2),$(3)))/trainer_state.json))

REFILLING := $(filter 1,$(REFILL))
REFILL_ADV := $(if $(REFILLING),--drop-uniform)
# gen's command for step $(1) (the ones before: $(2), $(3)), standard input to output
gen_cmd = $(if $(and $(filter 1,$(ASYNC)),$(strip $(ASYNC_GEN_THREADS))),POSTTRAIN_THREADS=$(strip $(ASYNC_GEN_THREADS)) )$(GEN) -m $(call ckpt,$(call sampler,$(1),$(2),$(3))) $(DTYPE_OPT) -G $(G) -T $(TEMP) -n $(MAXTOK) \
	--seed $$$$(( $(SEED) * 100003 + 10\#$(1) )) $(GEN_OPTS) -q
# A command over records, sharded by PARALLEL when it is set.
sharded = $(if $(SHARDED),$(PARALLEL) "$(1)",$(1))

define step
$(RUN)/step-$(1)/prompts.jsonl: $(PROMPTS)
	@mkdir -p $$(@D)
	sh $(HERE)lib.sh pick $(SEED) $(1) $(if $(REFILLING),$(MAX_DRAWS),$(BATCH)) $$< | $(PUT)$$@.part && mv $$@.part $$@

ifeq ($(REFILLING),1)
$(RUN)/step-$(1)/samples.jsonl.zst $(RUN)/step-$(1)/scored.jsonl.zst &: $(RUN)/step-$(1)/prompts.jsonl $(call ckpt,$(call sampler,$(1),$(2),$(3)))/model.safetensors
	GEN='$(call sharded,$(call gen_cmd,$(1),$(2),$(3)))' SCORE='$(call sharded,$(SCORE))' \
	    sh $(HERE)lib.sh refill $(BATCH) $$< $(RUN)/step-$(1)/samples.jsonl.zst $(RUN)/step-$(1)/scored.jsonl.zst
else
$(RUN)/step-$(1)/samples.jsonl.zst: $(RUN)/step-$(1)/prompts.jsonl $(call ckpt,$(call sampler,$(1),$(2),$(3)))/model.safetensors
	$(if $(SHARDED),< $$< $(PARALLEL) "$(call gen_cmd,$(1),$(2),$(3))" | zstd -q -c | $(PUT)$$@.part && mv $$@.part $$@,$(call gen_cmd,$(1),$(2),$(3)) < $$< -o $$@)

$(RUN)/step-$(1)/scored.jsonl.zst: $(RUN)/step-$(1)/samples.jsonl.zst
	$(if $(SHARDED),zstd -dc $$< | $(PARALLEL) "$(SCORE)" | zstd -q -c | $(PUT)$$@.part && mv $$@.part $$@,< $$< $(SCORE) -q -o $$@.part.zst && mv $$@.part.zst $$@)
endif

$(RUN)/step-$(1)/adv.jsonl.zst: $(RUN)/step-$(1)/scored.jsonl.zst
	if [ "$(BETA)" = 0 ]; then advantage -G $(G) $(call stale_bound,$(1),$(2),$(3)) $(REFILL_ADV) $(ADV_OPTS) -q -o $$@ $$<; \
	else advantage -G $(G) $(call stale_bound,$(1),$(2),$(3)) $(REFILL_ADV) $(ADV_OPTS) -q $$< | $(if $(SHARDED),$(PARALLEL) "logp -m $(REF) $(DTYPE_OPT) -q" | zstd -q -c | $(PUT)$$@.part && mv $$@.part $$@,logp -m $(REF) $(DTYPE_OPT) -q -o $$@.part.zst && mv $$@.part.zst $$@); fi

$(RUN)/step-$(1)/packed.jsonl.zst: $(RUN)/step-$(1)/adv.jsonl.zst
	pack -L $(L) $(PACK_OPTS) -q -o $$@ $$<

$(RUN)/step-$(1)/ckpt/model.safetensors: $(RUN)/step-$(1)/packed.jsonl.zst $(call ckpt,$(2))/model.safetensors
	rm -rf $(RUN)/step-$(1)/ckpt
	$(MPIRUN) update -m $(call ckpt,$(2)) -o $(RUN)/step-$(1)/ckpt --grpo --beta $(BETA) --lr $(LR) --compute-dtype $(DTYPE) \
	    --metrics $(RUN)/step-$(1)/metrics.part \
	    $(if $(filter 000,$(2)),$(FIRST_OPTS)) $(if $(filter 1,$(ASYNC)),$(ASYNC_OPTS)) \
	    $(UPDATE_OPTS) -q $$<
	mv $(RUN)/step-$(1)/metrics.part $(RUN)/step-$(1)/metrics.jsonl

# A run killed after update's end but before the rename above renames
# them when resumed (the checkpoint is there, so update does not run).
# (Under make -j the rule may run after the one above renamed them.)
$(RUN)/step-$(1)/metrics.jsonl: | $(RUN)/step-$(1)/ckpt/model.safetensors
	test -e $$@ || mv $(RUN)/step-$(1)/metrics.part $$@

$(RUN)/step-$(1)/stats.json: $(RUN)/step-$(1)/scored.jsonl.zst
	stats -j -q $$< > $$@.part && mv $$@.part $$@

$(RUN)/step-$(1)/accuracy.json: $(RUN)/step-$(1)/scored.jsonl.zst
	stats -j -q --reward $(ACC_KEY) $$< > $$@.part && mv $$@.part $$@

$(RUN)/step-$(1)/groups.json: $(RUN)/step-$(1)/scored.jsonl.zst
	zstd -dc $$< | jq -s -c 'group_by(.group) | {draws: length, \
	    groups: map(select(map(.reward) | unique | length > 1)) | length}' | $(PUT)$$@.part && mv $$@.part $$@

STEP_FILES += $(RUN)/step-$(1)/ckpt/model.safetensors $(RUN)/step-$(1)/metrics.jsonl \
	$(RUN)/step-$(1)/stats.json $(RUN)/step-$(1)/accuracy.json $(RUN)/step-$(1)/groups.json
endef

$(foreach p,$(PAIRS),$(eval $(call step,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))),$(word 3,$(subst :, ,$(p))))))

# One line per step: the reward and accuracy of the samples, the update's
# loss, KL, clip fraction and entropy, the completion length.
$(RUN)/metrics.jsonl: $(STEP_FILES)
	for s in $(STEP_NUMS); do d=$(RUN)/step-$$s; \
	  jq -c -s --argjson step "$$((10#$$s))" -f $(HERE)step-metrics.jq \
	    $$d/stats.json $$d/accuracy.json $$d/groups.json $$d/metrics.jsonl; \
	done | $(PUT)$@.part && mv $@.part $@

$(RUN)/plots/.done: $(RUN)/metrics.jsonl
	stats --plot $(RUN)/plots $<
	touch $@

.PHONY: all
