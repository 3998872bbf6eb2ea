/*
 * test_util - lib/util's hashing, against values from an independent
 * implementation (xxhsum -H1 of xxHash 0.8.1, Debian's xxhash package).
 */
#include <stdint.h>

#include "check.h"
#include "util.h"

static void
test_xxh64(void)
{
    unsigned char b[1000];
    int i;

    for (i = 0; i < 1000; i++)
        b[i] = (unsigned char)((i * 7 + 3) & 255);
    /* every tail path: under 32 bytes, 8-, 4- and 1-byte tails, stripes */
    CHECK(xxh64("", 0, 0) == 0xef46db3751d8e999ULL);
    CHECK(xxh64("a", 1, 0) == 0xd24ec4f1a98c6e5bULL);
    CHECK(xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ULL);
    CHECK(xxh64(b, 37, 0) == 0xe32ef63802f5a3fdULL);
    CHECK(xxh64(b, 1000, 0) == 0x5f235fa033f1a3fbULL);
    CHECK(xxh64(b, 1000, 1) != xxh64(b, 1000, 0));
    CHECK(xxh64(b, 999, 0) != xxh64(b, 1000, 0));
}

int
main(void)
{
    test_xxh64();
    return check_done();
}
