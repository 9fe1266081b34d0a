/*
 * replay_main.c - a main() for the harnesses without any fuzzing engine:
 * feeds every file named on the command line, or found in a directory
 * named there, to LLVMFuzzerTestOneInput, in name order. With no
 * arguments it reads the colon-separated list in SHMCHAN_FUZZ_REPLAY.
 *
 * This is what `bazel test //fuzz/...` runs on fuzz/corpus/<name>/ and
 * fuzz/regressions/<name>/ in every configuration (a violated property
 * aborts, a memory error is reported by the sanitizer of the config).
 * Each file is read into an exactly sized heap block. Hidden files and
 * README* are skipped; finding no input at all is a failure, so a broken
 * glob or path cannot pass as an empty success.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz_harness.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    const size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size > 0 ? size : 1);
    const int ok = data != NULL && fread(data, 1, size, f) == size;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    (void)LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int skipped(const char *name)
{
    return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

/* Returns the number of inputs replayed, or -1 on an unreadable path. */
static long replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path) == 0 ? 1 : -1;
    }
    struct dirent **names = NULL;
    const int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return -1;
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
        if (count >= 0 && !skipped(names[i]->d_name)) {
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            count = replay_file(child) == 0 ? count + 1 : -1;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    int bad = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const long n = replay_path(argv[i]);
            bad |= n < 0;
            total += n > 0 ? n : 0;
        }
    } else {
        const char *env = getenv("SHMCHAN_FUZZ_REPLAY");
        char *list = env != NULL ? strdup(env) : NULL;
        for (char *save = NULL, *p = list != NULL ? strtok_r(list, ":", &save) : NULL;
             p != NULL; p = strtok_r(NULL, ":", &save)) {
            const long n = replay_path(p);
            bad |= n < 0;
            total += n > 0 ? n : 0;
        }
        free(list);
    }
    fprintf(stderr, "replay: %ld inputs, %s\n", total, bad ? "with unreadable paths" : "all ran");
    if (bad || total == 0) {
        fprintf(stderr, "replay: FAILED (%s)\n", bad ? "unreadable path" : "no inputs found");
        return 1;
    }
    return 0;
}
