/*
 * reference.c - the memcpy row and the machine facts (see reference.h).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench/reference.h"
#include "bench/stats.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies for `seconds`, checking the clock every `batch` copies; returns
 * copies per second. The compiler cannot drop the copies: dst is read
 * back through a volatile sink after each batch. */
static double copy_round(uint8_t *dst, const uint8_t *src, uint32_t size, double seconds)
{
    const uint32_t batch = size >= 65536u ? 1u : 65536u / size;
    volatile uint8_t sink = 0;
    uint64_t copies = 0;
    const double t0 = now_s();
    double t = t0;
    do {
        for (uint32_t i = 0; i < batch; i++) {
            memcpy(dst, src, size);
        }
        sink = (uint8_t)(sink ^ dst[copies % size]);
        copies += batch;
        t = now_s();
    } while (t - t0 < seconds);
    (void)sink;
    return (double)copies / (t - t0);
}

int bench_memcpy_reference(uint32_t size, const bench_plan_t *plan, int cpu,
                           bench_result_t *out, bench_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->transport = "memcpy";
    out->mode = BENCH_MODE_STREAM;
    out->size = size;
    out->p50_ns = out->p99_ns = out->p999_ns = -1;
    cpu_set_t old, one;
    if (sched_getaffinity(0, sizeof old, &old) != 0) {
        bench_err_set(err, "memcpy reference: sched_getaffinity failed");
        return -1;
    }
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) {
        bench_err_set(err, "memcpy reference: cannot pin to CPU %d", cpu);
        return -1;
    }
    /* 64-byte aligned, touched before timing, like a transport's buffers. */
    uint8_t *src = aligned_alloc(64, ((size_t)size + 63u) & ~(size_t)63u);
    uint8_t *dst = aligned_alloc(64, ((size_t)size + 63u) & ~(size_t)63u);
    int rc = -1;
    if (src == NULL || dst == NULL) {
        bench_err_set(err, "memcpy reference: out of memory for %u bytes", size);
    } else {
        for (uint32_t i = 0; i < size; i++) {
            src[i] = (uint8_t)(i * 131u + 7u);
        }
        memset(dst, 0, size);
        (void)copy_round(dst, src, size, plan->warmup_seconds);
        double rates[BENCH_MAX_REPS];
        for (uint32_t r = 0; r < plan->reps; r++) {
            rates[r] = copy_round(dst, src, size, plan->seconds);
        }
        out->msgs_per_s = bench_median(rates, plan->reps);
        out->mb_per_s = out->msgs_per_s * size / 1e6;
        out->total_msgs = 0;
        out->verified_msgs = memcmp(dst, src, size) == 0 ? 1u : 0u;
        rc = out->verified_msgs == 1 ? 0 : -1;
        if (rc != 0) {
            bench_err_set(err, "memcpy reference: the copy differs from its source");
        }
    }
    free(src);
    free(dst);
    (void)sched_setaffinity(0, sizeof old, &old);
    return rc;
}

/* The first line of `path` without its newline, or "unknown". */
static void read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(buf, (int)cap, f) == NULL) {
        (void)snprintf(buf, cap, "unknown (%s unreadable)", path);
    } else {
        buf[strcspn(buf, "\n")] = '\0';
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void cpu_model(char *buf, size_t cap)
{
    (void)snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v != NULL) {
                (void)snprintf(buf, cap, "%s", v + 2);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

void bench_print_machine_facts(FILE *out)
{
    char v[256];
    cpu_model(v, sizeof v);
    fprintf(out, "# cpu: %s\n", v);
    /* glibc's sysconf reads the sizes from CPUID; this VM has no
     * /sys/devices/system/cpu/cpu0/cache. 0 or -1: not known. */
    fprintf(out, "# cache L1d: %ld KiB, L2: %ld KiB, L3: %ld KiB (per CPUID)\n",
            sysconf(_SC_LEVEL1_DCACHE_SIZE) / 1024, sysconf(_SC_LEVEL2_CACHE_SIZE) / 1024,
            sysconf(_SC_LEVEL3_CACHE_SIZE) / 1024);
    read_line("/sys/devices/system/cpu/cpuidle/current_driver", v, sizeof v);
    fprintf(out, "# cpuidle driver: %s\n", v);
    read_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", v, sizeof v);
    fprintf(out, "# cpuidle governor: %s\n", v);
    read_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", v, sizeof v);
    fprintf(out, "# guest_halt_poll_ns: %s\n", v);
    read_line("/sys/kernel/mm/transparent_hugepage/enabled", v, sizeof v);
    fprintf(out, "# transparent_hugepage: %s\n", v);
    struct utsname u;
    if (uname(&u) == 0) {
        fprintf(out, "# kernel: %s %s\n", u.sysname, u.release);
    }
}
