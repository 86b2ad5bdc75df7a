/*
 * fuzz_main.c - a main() for the libFuzzer harnesses when they are built
 * without libFuzzer (PVRR_FUZZ=OFF, e.g. with gcc): runs each file named on
 * the command line once through LLVMFuzzerTestOneInput, as a libFuzzer binary
 * does when it is given files. This is how CTest's fuzz.regressions replays
 * the saved crash inputs and the seed corpora in every build.
 *
 * Usage: HARNESS FILE...
 * Exit status: 0 when every input ran (a crash kills the process), 1 when a
 * file cannot be read, 2 on a usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger than any input the harnesses are fuzzed with (-max_len). */
#define INPUT_MAX (64l << 20)

/* Read all of (path) into a malloc'd buffer of exactly its size (so that ASan
 * catches a read past the end). Returns the buffer, or NULL with a message. */
static uint8_t *read_input(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot find the size: %s\n", path, strerror(errno));
        goto out;
    }
    if (size > INPUT_MAX) {
        fprintf(stderr, "%s: larger than %ld bytes\n", path, INPUT_MAX);
        goto out;
    }
    buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", path);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "%s: short read\n", path);
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = (size_t)size;
out:
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    int failed = 0, ran = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        uint8_t *buf = read_input(argv[i], &len);

        if (buf == NULL) {
            failed = 1;
            continue;
        }
        fprintf(stderr, "Running: %s (%zu bytes)\n", argv[i], len);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        ran++;
    }
    fprintf(stderr, "Executed %d inputs\n", ran);
    return failed;
}
