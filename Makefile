# posttrain - builds bin/ (one program per tools/*.c) on build/libposttrain.a
# (every lib/*.c), runs the tests, installs what is missing from Debian.
#
#   make            build bin/
#   make check      every unit test (plain and ASan+UBSan) and tool test
#   make demo       the main job: pipelines/demo.sh
#   make r1zero-demo  R1-Zero in miniature: pipelines/r1zero-demo.sh
#   make multi-demo   one GRPO run over math, code and chat: pipelines/multi-demo.sh
#   make deps       apt-get install the Debian packages that are missing
#   make lint-man   mandoc -T lint on every man page
#   make bench      every benchmark in bench/ (slow; never part of check)
#   make fuzz-run FUZZ=records SECONDS=600   one libFuzzer target
#   make MPI=1      bin/update also runs data-parallel under mpirun (the
#                   default when mpicc is found; MPI=0: never)

CC ?= cc
CFLAGS ?= -O2 -g
# zstd-style warnings; -Werror so a warning fails the build.
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wvla -Wformat=2 -Wwrite-strings -Wno-format-nonliteral
# -fno-math-errno: no program reads errno after a math call, and without it
# sqrtf is a library call with a branch, so no loop holding one vectorizes.
STD = -std=c17 -D_GNU_SOURCE -fno-math-errno
CPPFLAGS += -Ilib
# One threading model per program: OpenBLAS's pthreads for matrix products,
# and our own pthreads (lib/) for the rest, never both at once.
LDLIBS = -lopenblas -ljansson -lzstd -lpcre2-8 -lutf8proc -lcurl -lmicrohttpd -lpthread -lm
# The sanitizer build: AddressSanitizer + UndefinedBehaviorSanitizer, any
# report is fatal.
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer

# Debian packages the build, the tests and the pipelines need.
DEBS = gcc g++ make libc6-dev libjansson-dev libzstd-dev zstd libopenblas-dev \
       bubblewrap pkg-config libpcre2-dev jq mandoc gnuplot-nox parallel \
       python3 python3-torch libutf8proc-dev time openmpi-bin libopenmpi-dev \
       libcurl4-openssl-dev libmicrohttpd-dev default-jdk-headless golang-go rustc
# Commands that may come from outside Debian's packages (a node.js build of
# the machine's own, say): their package is installed only when the
# command is missing, so it never fights the one that is there.
DEB_CMDS = node:nodejs npm:npm

LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_HDR := $(wildcard lib/*.h)
TOOL_SRC := $(sort $(wildcard tools/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
TOOLS := $(patsubst tools/%.c,bin/%,$(TOOL_SRC))

LIB_OBJ := $(patsubst lib/%.c,build/obj/%.o,$(LIB_SRC))
ASAN_OBJ := $(patsubst lib/%.c,build/asan/obj/%.o,$(LIB_SRC))
UNIT := $(patsubst tests/unit/%.c,build/test/%,$(UNIT_SRC))
UNIT_ASAN := $(patsubst tests/unit/%.c,build/asan/test/%,$(UNIT_SRC))
TOOLS_ASAN := $(patsubst tools/%.c,build/asan/bin/%,$(TOOL_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,build/asan/fuzz/%,$(FUZZ_SRC))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

all: $(TOOLS)

build/obj/%.o: lib/%.c $(LIB_HDR) | build/obj
	$(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

build/libposttrain.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

bin/%: tools/%.c build/libposttrain.a $(LIB_HDR) | bin
	$(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< build/libposttrain.a $(LDLIBS)

# MPI: lib/dist.c again with mpicc -DPT_MPI, linked into bin/update ahead
# of the library's one-rank dist.o.  The other programs and the tests'
# builds stay without MPI.
MPICC ?= mpicc
MPI ?= $(if $(shell command -v $(MPICC) 2>/dev/null),1,0)
ifeq ($(MPI),1)
build/mpi/dist.o: lib/dist.c $(LIB_HDR) | build/mpi
	$(MPICC) $(STD) $(CPPFLAGS) -DPT_MPI $(CFLAGS) $(WARN) -c -o $@ $<

bin/update: tools/update.c build/mpi/dist.o build/libposttrain.a $(LIB_HDR) | bin
	$(MPICC) $(STD) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< build/mpi/dist.o \
	    build/libposttrain.a $(LDLIBS)
endif

build/test/%: tests/unit/%.c tests/unit/check.h build/libposttrain.a $(LIB_HDR) | build/test
	$(CC) $(STD) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(WARN) -o $@ $< build/libposttrain.a $(LDLIBS)

build/asan/obj/%.o: lib/%.c $(LIB_HDR) | build/asan/obj
	$(CC) $(STD) $(CPPFLAGS) $(SANFLAGS) $(WARN) -c -o $@ $<

build/asan/libposttrain.a: $(ASAN_OBJ)
	rm -f $@ && ar rcs $@ $^

build/asan/test/%: tests/unit/%.c tests/unit/check.h build/asan/libposttrain.a $(LIB_HDR) | build/asan/test
	$(CC) $(STD) $(CPPFLAGS) -Itests/unit $(SANFLAGS) $(WARN) -o $@ $< build/asan/libposttrain.a $(LDLIBS)

build/asan/bin/%: tools/%.c build/asan/libposttrain.a $(LIB_HDR) | build/asan/bin
	$(CC) $(STD) $(CPPFLAGS) $(SANFLAGS) $(WARN) -o $@ $< build/asan/libposttrain.a $(LDLIBS)

# Fuzz targets: replayed over their corpus (tests/fuzz/corpus/NAME) by
# make check in the ASan build; "make fuzz" builds them for libFuzzer with
# clang, and "make fuzz-run FUZZ=NAME SECONDS=N" runs one.
build/asan/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c build/asan/libposttrain.a $(LIB_HDR) | build/asan/fuzz
	$(CC) $(STD) $(CPPFLAGS) $(SANFLAGS) $(WARN) -o $@ $< tests/fuzz/replay.c build/asan/libposttrain.a $(LDLIBS)

FUZZ_CFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(LIB_HDR) | build/fuzz
	clang $(STD) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: $(FUZZ_BIN)

SECONDS ?= 60
fuzz-run: build/fuzz/fuzz_$(FUZZ)
	mkdir -p build/fuzz/corpus/$(FUZZ)
	build/fuzz/fuzz_$(FUZZ) -max_total_time=$(SECONDS) -max_len=65536 \
	    build/fuzz/corpus/$(FUZZ) tests/fuzz/corpus/$(FUZZ)

bin build/mpi build/obj build/test build/asan/obj build/asan/test build/asan/bin build/asan/fuzz build/fuzz:
	mkdir -p $@

# Installs the Debian packages that are missing (as root, with apt-get).
deps:
	@missing=; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$p"; done; \
	for cp in $(DEB_CMDS); do \
	  command -v $${cp%%:*} >/dev/null 2>&1 || missing="$$missing $${cp#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -q --no-install-recommends $$missing; \
	fi

tests-build: $(TOOLS) $(UNIT) $(UNIT_ASAN) $(TOOLS_ASAN) $(FUZZ_REPLAY)

check: deps
	$(MAKE) -j$$(nproc) tests-build
	@sh tests/run.sh

lint-man:
	@rc=0; for m in man/man*/*.[157]; do \
	  mandoc -T lint -W warning $$m || rc=1; done; exit $$rc

demo: deps
	$(MAKE) -j$$(nproc) all
	sh pipelines/demo.sh

r1zero-demo: deps
	$(MAKE) -j$$(nproc) all
	sh pipelines/r1zero-demo.sh

multi-demo: deps
	$(MAKE) -j$$(nproc) all
	sh pipelines/multi-demo.sh

bench: all
	@for b in bench/*.sh; do echo "== $$b"; sh $$b || exit 1; done

clean:
	rm -rf bin build

.PHONY: all deps check tests-build lint-man demo r1zero-demo multi-demo bench clean fuzz fuzz-run
.SECONDARY:
