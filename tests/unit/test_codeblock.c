/*
 * test_codeblock.c - fenced code block extraction, checked against
 * hand-written completions.
 */
#include <string.h>

#include "check.h"
#include "codeblock.h"

/* The block found in text for lang (in a static buffer), or NULL. */
static char block[4096];

static const char *
find(const char *text, const char *lang)
{
    size_t off, len;

    if (!codeblock_find(text, strlen(text), lang, &off, &len))
        return NULL;
    memcpy(block, text + off, len);
    block[len] = '\0';
    return block;
}

int
main(void)
{
    /* No fence at all, or an inline ``` that is not at a line start. */
    CHECK(find("just text\nprint(1)\n", "python") == NULL);
    CHECK(find("use ```python x``` inline", "python") == NULL);
    CHECK(find("", "c") == NULL);

    /* One block, language given or not. */
    CHECK_STREQ(find("Here:\n```python\nprint(1)\n```\nDone.", "python"), "print(1)\n");
    CHECK_STREQ(find("```\nx = 1\n```", "python"), "x = 1\n");

    /* The last block of the wanted language wins over later other ones. */
    CHECK_STREQ(find("```python\na\n```\n```python\nb\n```\n```text\nc\n```\n", "python"),
                "b\n");
    /* No block of the language: the last block of any language. */
    CHECK_STREQ(find("```js\na\n```\n```text\nc\n```\n", "python"), "c\n");
    /* Aliases and case. */
    CHECK_STREQ(find("```py\na\n```\n```sh\nb\n```", "python"), "a\n");
    CHECK_STREQ(find("```Python3\na\n```\n```sh\nb\n```", "python"), "a\n");
    CHECK_STREQ(find("```c++\na\n```\n```c\nb\n```", "cpp"), "a\n");
    CHECK_STREQ(find("```cpp\na\n```\n```c\nb\n```", "c"), "b\n");
    CHECK_STREQ(find("```c\nb\n```\n```cpp\na\n```", "c"), "b\n");
    /* Info string after the language is ignored. */
    CHECK_STREQ(find("``` python title=\"x\"\na\n```", "python"), "a\n");

    /* A longer fence holds a shorter one as content. */
    CHECK_STREQ(find("````python\ns = '''\n```\n'''\n````\n", "python"), "s = '''\n```\n'''\n");
    /* Tildes close only with tildes. */
    CHECK_STREQ(find("~~~python\na\n```\nb\n~~~\n", "python"), "a\n```\nb\n");
    /* Up to three spaces of indentation; four is not a fence. */
    CHECK_STREQ(find("   ```python\na\n   ```\n", "python"), "a\n");
    CHECK(find("    ```python\na\n    ```\n", "python") == NULL);
    /* A closing fence may carry trailing spaces but no info string. */
    CHECK_STREQ(find("```python\na\n```  \nb\n", "python"), "a\n");
    CHECK_STREQ(find("```python\na\n```x\nb\n```\n", "python"), "a\n```x\nb\n");

    /* Unclosed block (cut off by the token limit): no program, not even
     * an earlier closed block. */
    CHECK(find("```python\ndef f():\n    return", "python") == NULL);
    CHECK(find("```python\na\n```\n```python\nb", "python") == NULL);
    CHECK(find("```python\na\n```\n```text\nb\n", "python") == NULL);
    CHECK(find("```python\na\n````\n", "python") != NULL);
    CHECK(find("````python\na\n```\n", "python") == NULL);
    CHECK(find("text\n```python", "python") == NULL);
    CHECK(find("text\n```python\n", "python") == NULL);
    /* Empty block; a closing fence on the last line without newline. */
    CHECK_STREQ(find("```python\n```\n", "python"), "");
    CHECK_STREQ(find("```python\nx\n```", "python"), "x\n");
    /* The new languages' aliases. */
    CHECK_STREQ(find("```golang\na\n```\n```text\nb\n```", "go"), "a\n");
    CHECK_STREQ(find("```rs\na\n```\n```text\nb\n```", "rust"), "a\n");
    CHECK_STREQ(find("```js\na\n```\n```text\nb\n```", "javascript"), "a\n");
    CHECK_STREQ(find("```java\na\n```\n```js\nb\n```", "java"), "a\n");
    /* CRLF line ends: the language word stops at the CR. */
    CHECK_STREQ(find("```python\r\nx\r\n```\r\n", "python"), "x\r\n");

    CHECK(codeblock_lang_matches("python", "py", 2));
    CHECK(!codeblock_lang_matches("python", "pyt", 3));
    CHECK(!codeblock_lang_matches(NULL, "c", 1));
    CHECK(codeblock_lang_matches("rust", "Rust", 4));
    return check_done();
}
