/*
 * shmchanctl_main.c - the `shmchanctl` program: what `ipcs -m` and
 * `ipcrm -m` are to the seeds, for shmchan channels, judged by the same
 * code a restarting server uses (probe.c/judge.c): it lists, inspects,
 * and removes only channels that are provably ours and provably dead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/prog/args.h"
#include "src/prog/io.h"
#include "src/shmchan.h"

static void print_usage(FILE *out)
{
    (void)fprintf(
        out, "Usage: shmchanctl list [--all]\n"
             "       shmchanctl inspect --key KEY\n"
             "       shmchanctl clean --stale [--key KEY] [--dry-run]\n"
             "       shmchanctl --help | --version\n"
             "\n"
             "Commands:\n"
             "  list              a table of the shmchan channels visible to us: key, ids,\n"
             "                    owner uid, mode, size, attached processes, status (live,\n"
             "                    stale, busy, foreign) and connected clients\n"
             "    --all           also list segments that are not shmchan channels (foreign)\n"
             "  inspect --key KEY the validated layout of the channel at KEY and the verdict\n"
             "                    on it, with the reason\n"
             "  clean --stale     remove every stale channel (ours, server dead); live, busy\n"
             "                    and foreign objects are never removed\n"
             "    --key KEY       only the channel at KEY: refused, with the reason, unless it\n"
             "                    is stale\n"
             "    --dry-run       say what would be removed, remove nothing\n"
             "\n"
             "KEY is decimal or 0x hex, 1..0xffffffff.\n"
             "\n"
             "Exit status:\n"
             "  0  done (list, inspect of an existing object, clean that removed all it named)\n"
             "  1  runtime error: nothing at the inspected key, a named channel not stale, a\n"
             "     removal that failed, kernel errors\n"
             "  2  bad arguments\n");
}

/* "-" for an id the kernel does not have (-1). */
static const char *id_text(int id, char *buf, size_t len)
{
    if (id < 0) {
        return "-";
    }
    (void)snprintf(buf, len, "%d", id);
    return buf;
}

/* ----------------------------------------------------------------- list */

static void print_row(const shmchan_channel_info_t *c)
{
    char shmid[16];
    char semid[16];
    char clients[16] = "-";
    if (c->max_clients != 0) {
        (void)snprintf(clients, sizeof clients, "%u/%u", c->clients, c->max_clients);
    }
    (void)printf("0x%08x %10s %10s %8u %04o %12llu %8llu %-8s %s\n", (unsigned)c->key,
                 id_text(c->shmid, shmid, sizeof shmid), id_text(c->semid, semid, sizeof semid),
                 (unsigned)c->uid, c->mode, (unsigned long long)c->size,
                 (unsigned long long)c->nattch, shmchan_status_name(c->status), clients);
}

/* Fills *out with every channel (growing the array until it holds all of
 * them: channels may appear between two calls). Returns the count, or -1. */
static long collect(int include_foreign, shmchan_channel_info_t **out)
{
    size_t cap = 64;
    /* Channels appearing between the calls can only grow the count so
     * much; a few rounds settle it. */
    for (int round = 0; round < 8; round++) {
        shmchan_channel_info_t *infos = calloc(cap, sizeof *infos);
        if (infos == NULL) {
            (void)fprintf(stderr, "shmchanctl: out of memory listing channels\n");
            return -1;
        }
        size_t count = 0;
        shmchan_diag_t diag;
        memset(&diag, 0, sizeof diag);
        const shmchan_err_t err = shmchan_list(infos, cap, &count, include_foreign, &diag);
        if (err != SHMCHAN_OK) {
            (void)fprintf(stderr, "shmchanctl: listing channels: %s (%s)\n",
                          diag.text[0] != '\0' ? diag.text : "shmchan_list", shmchan_strerror(err));
            free(infos);
            return -1;
        }
        if (count <= cap) {
            *out = infos;
            return (long)count;
        }
        free(infos);
        cap = count + 16;
    }
    (void)fprintf(stderr, "shmchanctl: the set of segments kept changing while listing\n");
    return -1;
}

static int cmd_list(int include_foreign)
{
    shmchan_channel_info_t *infos = NULL;
    const long n = collect(include_foreign, &infos);
    if (n < 0) {
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    (void)printf("%-10s %10s %10s %8s %-4s %12s %8s %-8s %s\n", "KEY", "SHMID", "SEMID", "OWNER",
                 "MODE", "SIZE", "ATTACHED", "STATUS", "CLIENTS");
    for (long i = 0; i < n; i++) {
        print_row(&infos[i]);
    }
    free(infos);
    return fflush(stdout) == 0 ? SHMCHAN_PROG_EXIT_OK : SHMCHAN_PROG_EXIT_RUNTIME;
}

/* -------------------------------------------------------------- inspect */

static int cmd_inspect(key_t key)
{
    shmchan_channel_info_t c;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_inspect(key, &c, &diag);
    if (err != SHMCHAN_OK) {
        (void)fprintf(stderr, "shmchanctl: inspecting key 0x%08x: %s (%s)\n", (unsigned)key,
                      diag.text[0] != '\0' ? diag.text : "shmchan_inspect", shmchan_strerror(err));
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (c.status == SHMCHAN_STATUS_ABSENT) {
        (void)fprintf(stderr, "shmchanctl: %s\n", c.reason);
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    char shmid[16];
    char semid[16];
    (void)printf("key:           0x%08x\n", (unsigned)c.key);
    (void)printf("status:        %s\n", shmchan_status_name(c.status));
    (void)printf("reason:        %s\n", c.reason);
    (void)printf("shmid:         %s\n", id_text(c.shmid, shmid, sizeof shmid));
    (void)printf("semid:         %s\n", id_text(c.semid, semid, sizeof semid));
    (void)printf("owner:         uid %u (creator uid %u)\n", (unsigned)c.uid, (unsigned)c.cuid);
    (void)printf("mode:          %04o\n", c.mode);
    (void)printf("size:          %llu bytes\n", (unsigned long long)c.size);
    (void)printf("attached:      %llu\n", (unsigned long long)c.nattch);
    if (c.server_pid > 0) {
        (void)printf("server pid:    %d (last to operate the liveness token)\n", (int)c.server_pid);
    }
    if (c.max_clients != 0) {
        (void)printf("max clients:   %u\n", c.max_clients);
        (void)printf("max payload:   %u bytes\n", c.max_payload);
        (void)printf("lane capacity: %u bytes\n", c.lane_capacity);
        (void)printf("clients:       %u\n", c.clients);
    } else {
        (void)printf("layout:        none (no valid shmchan header)\n");
    }
    return fflush(stdout) == 0 ? SHMCHAN_PROG_EXIT_OK : SHMCHAN_PROG_EXIT_RUNTIME;
}

/* ---------------------------------------------------------------- clean */

/* Removes (or, dry_run, names) the stale channel at key; anything else at
 * the key is refused with the library's reason. Returns an exit code. */
static int clean_one(key_t key, int dry_run)
{
    shmchan_channel_info_t c;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_remove_stale(key, dry_run, &c, &diag);
    char shmid[16];
    char semid[16];
    if (err == SHMCHAN_OK) {
        shmchan_prog_say(stdout, "%s stale channel at key 0x%08x: shmid %s, semid %s\n",
                         dry_run ? "would remove" : "removed", (unsigned)key,
                         id_text(c.shmid, shmid, sizeof shmid),
                         id_text(c.semid, semid, sizeof semid));
        return SHMCHAN_PROG_EXIT_OK;
    }
    const char *why = diag.text[0] != '\0' ? diag.text : c.reason;
    if (err == SHMCHAN_E_ALREADY_RUNNING || err == SHMCHAN_E_BUSY || err == SHMCHAN_E_FOREIGN ||
        err == SHMCHAN_E_NOT_FOUND) {
        shmchan_prog_say(stderr, "shmchanctl: not removing key 0x%08x: it is %s, not stale: %s\n",
                         (unsigned)key, shmchan_status_name(c.status), why);
    } else {
        shmchan_prog_say(stderr, "shmchanctl: removing the stale channel at key 0x%08x: %s (%s)\n",
                         (unsigned)key, why, shmchan_strerror(err));
    }
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

static int clean_all(int dry_run)
{
    shmchan_channel_info_t *infos = NULL;
    const long n = collect(0, &infos);
    if (n < 0) {
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    int rc = SHMCHAN_PROG_EXIT_OK;
    long stale = 0;
    for (long i = 0; i < n; i++) {
        if (infos[i].status != SHMCHAN_STATUS_STALE) {
            continue;
        }
        stale++;
        /* Judged again inside: it may have been restarted since listing. */
        if (clean_one(infos[i].key, dry_run) != SHMCHAN_PROG_EXIT_OK) {
            rc = SHMCHAN_PROG_EXIT_RUNTIME;
        }
    }
    free(infos);
    if (stale == 0) {
        shmchan_prog_say(stdout, "no stale channels\n");
    }
    return rc;
}

int main(int argc, char **argv)
{
    shmchan_prog_ctl_args_t args;
    char err[256];
    switch (shmchan_prog_parse_ctl_args(argc, (const char *const *)argv, &args, err, sizeof err)) {
    case SHMCHAN_PROG_ARGS_HELP:
        print_usage(stdout);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_VERSION:
        (void)printf("shmchanctl (shmchan) %s\n", SHMCHAN_PROG_VERSION);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_ERROR:
        (void)fprintf(stderr, "shmchanctl: %s\n", err);
        print_usage(stderr);
        return SHMCHAN_PROG_EXIT_USAGE;
    case SHMCHAN_PROG_ARGS_RUN:
        break;
    }
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    switch (args.command) {
    case SHMCHAN_PROG_CTL_LIST:
        return cmd_list(args.all);
    case SHMCHAN_PROG_CTL_INSPECT:
        return cmd_inspect(args.key);
    case SHMCHAN_PROG_CTL_CLEAN:
        return args.has_key ? clean_one(args.key, args.dry_run) : clean_all(args.dry_run);
    case SHMCHAN_PROG_CTL_NONE:
        break;
    }
    return SHMCHAN_PROG_EXIT_USAGE;
}
