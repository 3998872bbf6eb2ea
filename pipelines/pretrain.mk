# pipelines/pretrain.mk - (continued) pretraining on plain text: text
# records ({"text": ...}, posttrain-records(5)) -> pack -> update --sft.
# pack encodes each document as the tokenizer's post-processor does (BOS
# where it adds one) plus the end-of-sequence token, with the loss on every
# token; documents are packed end to end and isolated like samples, so
# attention never crosses from one document into the next.
#
#   make -f pipelines/pretrain.mk INIT=ckpt/fresh DATA=corpus.jsonl.zst RUN=run/pt
#
# It is sft.mk on text records, with a pretraining schedule: a short
# warmup, then a cosine to MIN_LR over all EPOCHS.  The files are sft.mk's:
#   RUN/packed.jsonl.zst      DATA tokenized and packed
#   RUN/epoch-N/              the checkpoint after epoch N
#   RUN/epoch-N.metrics.jsonl update's metrics of that epoch
#   RUN/final                 a symbolic link to the last epoch: the base model
#
# Settings (make VAR=value):
INIT ?=
DATA ?=
RUN ?= run/pretrain
EPOCHS ?= 1
L ?= 1024
BATCH ?= 8
LR ?= 3e-3
MIN_LR ?= 3e-4
WARMUP ?= 50
SEED ?= 0
PACK_OPTS ?=
UPDATE_OPTS ?=
MPIRUN ?=

HERE := $(dir $(lastword $(MAKEFILE_LIST)))

all:
	@$(MAKE) --no-print-directory -f $(HERE)sft.mk INIT=$(INIT) DATA=$(DATA) RUN=$(RUN) \
	    EPOCHS=$(EPOCHS) L=$(L) BATCH=$(BATCH) LR=$(LR) MIN_LR=$(MIN_LR) WARMUP=$(WARMUP) \
	    SEED=$(SEED) PACK_OPTS="$(PACK_OPTS)" UPDATE_OPTS="$(UPDATE_OPTS)" MPIRUN="$(MPIRUN)"

.PHONY: all
