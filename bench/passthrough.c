/*
 * passthrough.c - the record path of every tool, alone: read records
 * (plain or zstd), parse each into jansson, write it back as compact JSON.
 * Built and run by bench/records.sh.
 */
#include "tool.h"

static const char usage[] = "usage: passthrough [options] [FILE...]\n";

int
main(int argc, char **argv)
{
    static const struct opt opts[] = { OPT_END() };
    struct tool t;
    json_t *r;
    int argi;

    tool_init(&t, "passthrough", usage);
    argi = tool_parse(&t, opts, argc, argv);
    tool_start(&t, argc - argi, argv + argi);
    while ((r = tool_next(&t)) != NULL) {
        tool_write(&t, r);
        json_decref(r);
    }
    return tool_finish(&t);
}
