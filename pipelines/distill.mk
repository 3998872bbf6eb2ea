# pipelines/distill.mk - DeepSeek-V3's distillation of reasoning into SFT
# data, through a domain expert, in four stages:
#
#   1. expert:  SFT on DATA from BASE, then GRPO on PROMPTS          (RUN/expert-*)
#   2. samples: type A = <problem, original response> (DATA itself);
#               type B = <system prompt, problem, expert response>:
#               the expert answers PROMPTS under the reflection system
#               prompt SYSTEM; correct answers are kept                 (RUN/type-*.jsonl.zst)
#   3. RL hot:  SFT on A and B, then GRPO at temperature HOT_TEMP with no
#               system prompt, so the expert keeps the reflective patterns
#               of B without being asked                              (RUN/hot-*)
#   4. final:   rejection sampling with that expert: G samples per prompt,
#               scored, the best correct one of each kept as SFT data  (RUN/final.jsonl.zst)
#
#   make -f pipelines/distill.mk BASE=ckpt/base DATA=sft.jsonl PROMPTS=prompts.jsonl
#
# With TEACHER_SERVER=URL (an OpenAI-compatible base URL: serve(1), vLLM,
# DeepSeek's API) the type B responses come from the served model
# TEACHER_MODEL instead (the key in the environment variable named by
# TEACHER_KEY_ENV), stage 1 is skipped and stage 3 starts from BASE.  The
# requests are resumable: an interrupted run asks only for the rest.
#
# Every stage is an ordinary run of sft.mk or grpo.mk in its own directory,
# so each can be inspected, and an interrupted run resumes where it stopped.
BASE ?=
DATA ?=
PROMPTS ?=
RUN ?= run/distill
SYSTEM ?= $(HERE)prompts/r1-system.txt
TEACHER_SERVER ?=
TEACHER_MODEL ?= deepseek-reasoner
TEACHER_KEY_ENV ?=
TEACHER_OPTS ?= --concurrency 16 --max-errors 1000000
# stage settings
SFT_EPOCHS ?= 1
SFT_VARS ?=
RL_STEPS ?= 4
RL_VARS ?=
HOT_TEMP ?= 1.2
HOT_STEPS ?= 4
G ?= 8
MAXTOK ?= 256
GEN_OPTS ?= --think
SCORE ?= score-math --extract boxed | score-format
MIN_REWARD ?= 1
SEED ?= 1

HERE := $(dir $(lastword $(MAKEFILE_LIST)))
export PATH := $(abspath $(HERE)../bin):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

ifeq ($(strip $(BASE)$(DATA)$(PROMPTS)),)
$(error distill.mk: set BASE=checkpoint DATA=SFT records PROMPTS=prompt records)
endif

SUB = $(MAKE) --no-print-directory -f
LASTSTEP = step-$(shell printf %03d $(1))

all: $(RUN)/final.jsonl.zst
	@echo "distill: the final SFT data is $(RUN)/final.jsonl.zst"

# 1. the expert
$(RUN)/expert-sft/final:
	$(SUB) $(HERE)sft.mk INIT=$(BASE) DATA=$(DATA) RUN=$(RUN)/expert-sft EPOCHS=$(SFT_EPOCHS) SEED=$(SEED) $(SFT_VARS)

$(RUN)/expert-rl/$(call LASTSTEP,$(RL_STEPS))/ckpt/model.safetensors: $(RUN)/expert-sft/final
	$(SUB) $(HERE)grpo.mk INIT=$(RUN)/expert-sft/final PROMPTS=$(PROMPTS) RUN=$(RUN)/expert-rl \
	    STEPS=$(RL_STEPS) G=$(G) MAXTOK=$(MAXTOK) GEN_OPTS="$(GEN_OPTS)" SCORE="$(SCORE)" SEED=$(SEED) $(RL_VARS)
EXPERT = $(RUN)/expert-rl/$(call LASTSTEP,$(RL_STEPS))/ckpt

# 2. type A and type B samples
$(RUN)/type-a.jsonl.zst: $(DATA)
	@mkdir -p $(@D)
	< $< jq -c 'select(.response != null) | .sample_type = "A"' | zstd -q > $@.part && mv $@.part $@

ifneq ($(TEACHER_SERVER),)
STUDENT = $(BASE)
$(RUN)/type-b.samples.jsonl.zst: $(PROMPTS)
	@mkdir -p $(@D)
	gen --server $(TEACHER_SERVER) -m $(TEACHER_MODEL) $(if $(TEACHER_KEY_ENV),--api-key-env $(TEACHER_KEY_ENV)) \
	    -G $(G) -n $(MAXTOK) --system $(SYSTEM) --seed $(SEED) $(TEACHER_OPTS) \
	    --rejects $(RUN)/teacher.rejects.jsonl -q -o $(RUN)/teacher.jsonl --resume $<
	zstd -q -c $(RUN)/teacher.jsonl > $@.part && mv $@.part $@
else
STUDENT = $(EXPERT)
$(RUN)/type-b.samples.jsonl.zst: $(PROMPTS) $(EXPERT)/model.safetensors
	gen -m $(EXPERT) -G $(G) -n $(MAXTOK) --system $(SYSTEM) --seed $(SEED) $(GEN_OPTS) -q -o $@ $<
endif

$(RUN)/type-b.jsonl.zst: $(RUN)/type-b.samples.jsonl.zst
	< $< $(SCORE) -q | rejsample --best 1 --min-reward $(MIN_REWARD) -q \
	  | jq -c '.sample_type = "B"' | zstd -q > $@.part && mv $@.part $@

$(RUN)/type-ab.jsonl.zst: $(RUN)/type-a.jsonl.zst $(RUN)/type-b.jsonl.zst
	zstd -dc $^ | zstd -q > $@.part && mv $@.part $@

# 3. SFT on A and B, then RL at high temperature with no system prompt
$(RUN)/hot-sft/final: $(RUN)/type-ab.jsonl.zst $(STUDENT)/model.safetensors
	$(SUB) $(HERE)sft.mk INIT=$(STUDENT) DATA=$(RUN)/type-ab.jsonl.zst RUN=$(RUN)/hot-sft EPOCHS=$(SFT_EPOCHS) SEED=$(SEED) $(SFT_VARS)

$(RUN)/hot-rl/$(call LASTSTEP,$(HOT_STEPS))/ckpt/model.safetensors: $(RUN)/hot-sft/final
	$(SUB) $(HERE)grpo.mk INIT=$(RUN)/hot-sft/final PROMPTS=$(PROMPTS) RUN=$(RUN)/hot-rl \
	    STEPS=$(HOT_STEPS) TEMP=$(HOT_TEMP) G=$(G) MAXTOK=$(MAXTOK) GEN_OPTS="$(GEN_OPTS)" SCORE="$(SCORE)" \
	    SEED=$$(( $(SEED) + 1 )) $(RL_VARS)
HOT = $(RUN)/hot-rl/$(call LASTSTEP,$(HOT_STEPS))/ckpt

# 4. rejection sampling with the expert
$(RUN)/final.samples.jsonl.zst: $(PROMPTS) $(HOT)/model.safetensors
	gen -m $(HOT) -G $(G) -n $(MAXTOK) --seed $$(( $(SEED) + 2 )) $(GEN_OPTS) -q -o $@ $<

$(RUN)/final.jsonl.zst: $(RUN)/final.samples.jsonl.zst
	< $< $(SCORE) -q | rejsample --best 1 --min-reward $(MIN_REWARD) --require-format -q -o $@.part.zst \
	  && mv $@.part.zst $@

.PHONY: all
