/*
 * replay_main: runs a fuzz target over every file of its seed corpus (and
 * over a few synthetic inputs) without libFuzzer, so that the regular test
 * suite, and the sanitizer build, exercise every fuzz target.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return -1;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n);
    /* Every prefix too: truncated input is the commonest malformation. */
    for (size_t cut = 0; cut < n && cut < 512; cut++)
        LLVMFuzzerTestOneInput(buf, cut);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            if (run_file(argv[i]) == 0)
                files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            int n = snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (n > 0 && (size_t)n < sizeof(path) && run_file(path) == 0)
                files++;
        }
        closedir(d);
    }
    /* Pseudo-random inputs from a fixed seed. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    uint8_t rnd[256];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % (int)sizeof(rnd));
        for (size_t j = 0; j < len; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rnd[j] = (uint8_t)x;
        }
        LLVMFuzzerTestOneInput(rnd, len);
    }
    printf("replayed %d corpus files and 2000 random inputs\n", files);
    return files > 0 ? 0 : 1;
}
