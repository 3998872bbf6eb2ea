/*
 * passthrough.c - the record path of every tool, alone: read records
 * (plain or zstd), parse each into jansson, write it back as compact JSON.
 * Built and run by bench/records.sh.
 */
#include "tool.h"

static const char usage[] = "usage: passthrough [options] [FILE...]\n" TOOL_USAGE_COMMON;

int
main(int argc, char **argv)
{
    static const struct option opts[] = { TOOL_LONGOPTS, {NULL, 0, NULL, 0} };
    struct tool t;
    json_t *r;
    int c;

    tool_init(&t, "passthrough", usage);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS, opts, NULL)) != -1)
        if (!tool_opt(&t, c, optarg))
            tool_usage(&t);
    tool_start(&t, argc - optind, argv + optind);
    while ((r = tool_next(&t)) != NULL) {
        tool_write(&t, r);
        json_decref(r);
    }
    return tool_finish(&t);
}
