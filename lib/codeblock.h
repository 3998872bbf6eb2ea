/*
 * codeblock.h - finds the program in a model's completion: a Markdown
 * fenced code block.
 *
 * A fence is a line that starts (after at most three spaces) with three
 * or more backticks or tildes; the first word after it is the block's
 * language.  The block ends at a line holding only a fence of the same
 * character at least as long.  When no such line comes, the text was cut
 * off inside the block (by the token limit, say): it holds no program,
 * whatever blocks came before.  Fences inside a block are its content.
 *
 * The block chosen is the last one whose language matches the wanted
 * language (python: python, py, python3; c: c; cpp: cpp, c++, cc, cxx;
 * java: java; go: go, golang; rust: rust, rs; javascript: javascript, js,
 * node, nodejs; case-insensitive), else the last block of any language.
 *
 *     size_t off, len;
 *     if (codeblock_find(text, strlen(text), "python", &off, &len))
 *         run(text + off, len);
 */
#ifndef POSTTRAIN_CODEBLOCK_H
#define POSTTRAIN_CODEBLOCK_H

#include <stddef.h>

/*
 * Finds the block in text[0..len) for language lang (NULL or unknown =
 * any).  Returns 1 and the content's offset and length (without the fence
 * lines; ends with the last content line's newline), or 0 when the text
 * has no fenced block or ends inside an unclosed one.
 */
int codeblock_find(const char *text, size_t len, const char *lang,
                   size_t *off, size_t *blen);

/* 1 when the fence's language word (word[0..n)) names lang. */
int codeblock_lang_matches(const char *lang, const char *word, size_t n);

#endif
