# pipelines/sft.mk - supervised fine-tuning: SFT records (prompt and
# response, or conversations: messages) -> pack -> update,
# one checkpoint per epoch, the learning rate following one cosine (with
# warmup) over all epochs.
#
#   make -f pipelines/sft.mk INIT=ckpt/base DATA=sft.jsonl.zst EPOCHS=2
#
# Files:
#   RUN/packed.jsonl.zst      DATA rendered with INIT's chat format, packed; the
#                             loss on every assistant turn of a conversation
#                             (LAST_TURN_ONLY=1: on its last turn only)
#   RUN/epoch-N/              the checkpoint after epoch N (N = 1..EPOCHS)
#   RUN/epoch-N.metrics.jsonl update's metrics of that epoch
#   RUN/final                 a symbolic link to the last epoch
# Each epoch starts from the one before, with the optimizer state and the
# schedule carried in the checkpoint, so the epochs make one run; an
# interrupted run resumes at the first missing epoch.
#
# Settings (make VAR=value); the defaults are DeepSeek-V3's SFT schedule:
INIT ?=
DATA ?=
RUN ?= run/sft
EPOCHS ?= 2
L ?= 4096
BATCH ?= 16
LR ?= 5e-6
MIN_LR ?= 1e-6
WARMUP ?= 0
SEED ?= 0
LAST_TURN_ONLY ?=
PACK_OPTS ?=
UPDATE_OPTS ?=
# The matrix products' precision: f32, or bf16 (update --compute-dtype:
# bf16 copies of fp32 master weights, fp32 accumulation)
DTYPE ?= f32
# MPIRUN starts update data-parallel over the ranks of an MPI job (the
# result: the one-process one up to float summation order; posttrain(7),
# RUNNING ON A CLUSTER), e.g.
#   MPIRUN = mpirun -np 8 --hostfile hosts -x PATH
MPIRUN ?=

HERE := $(dir $(lastword $(MAKEFILE_LIST)))
export PATH := $(abspath $(HERE)../bin):$(PATH)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DELETE_ON_ERROR:

ifeq ($(strip $(INIT)),)
$(error sft.mk: set INIT=checkpoint directory)
endif
ifeq ($(strip $(DATA)),)
$(error sft.mk: set DATA=SFT records)
endif

EPOCH_NUMS := $(shell seq 1 $(EPOCHS))

all: $(RUN)/final
	@echo "sft: $(EPOCHS) epochs in $(RUN); the model is $(RUN)/final"

$(RUN)/packed.jsonl.zst: $(DATA)
	@mkdir -p $(@D)
	pack -m $(INIT) -L $(L) $(if $(LAST_TURN_ONLY),--last-turn-only) $(PACK_OPTS) -q -o $@ $<

# Optimizer steps in the whole run: batches per epoch times epochs.
TOTAL = $$(( ( $$(zstd -dc $(RUN)/packed.jsonl.zst | wc -l) + $(BATCH) - 1 ) / $(BATCH) * $(EPOCHS) ))

$(RUN)/epoch-1/model.safetensors: $(RUN)/packed.jsonl.zst $(INIT)/model.safetensors
	rm -rf $(RUN)/epoch-1
	$(MPIRUN) update -m $(INIT) -o $(RUN)/epoch-1 --sft --new-optimizer --compute-dtype $(DTYPE) --epochs 1 --batch $(BATCH) \
	    --lr $(LR) --min-lr $(MIN_LR) --schedule cosine --warmup $(WARMUP) \
	    --total-steps $(TOTAL) --seed $(SEED) --metrics $(RUN)/epoch-1.metrics.part \
	    $(UPDATE_OPTS) -q $<
	mv $(RUN)/epoch-1.metrics.part $(RUN)/epoch-1.metrics.jsonl

define epoch
$(RUN)/epoch-$(1)/model.safetensors: $(RUN)/packed.jsonl.zst $(RUN)/epoch-$(2)/model.safetensors
	rm -rf $(RUN)/epoch-$(1)
	$(MPIRUN) update -m $(RUN)/epoch-$(2) -o $(RUN)/epoch-$(1) --sft --compute-dtype $(DTYPE) --epochs 1 --batch $(BATCH) \
	    --seed $$$$(( $(SEED) + $(1) )) --metrics $(RUN)/epoch-$(1).metrics.part $(UPDATE_OPTS) -q $$<
	mv $(RUN)/epoch-$(1).metrics.part $(RUN)/epoch-$(1).metrics.jsonl
endef
$(foreach e,$(wordlist 2,$(EPOCHS),$(EPOCH_NUMS)),$(eval $(call epoch,$(e),$(shell echo $$(($(e) - 1))))))

$(RUN)/final: $(RUN)/epoch-$(EPOCHS)/model.safetensors
	ln -sfn epoch-$(EPOCHS) $@

.PHONY: all
