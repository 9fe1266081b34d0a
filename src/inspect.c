/*
 * inspect.c - listing channels and removing stale ones (shmchanctl's API).
 * Every decision comes from probe.c/judge.c, the same code the server uses
 * before it reclaims a key. The one difference is the mode allowed: a
 * server judges with the mode it creates with (0600), inspection with the
 * widest mode any shmchan server has ever created (0660: group modes were
 * accepted before they were refused). So `clean --stale` may remove a
 * stale 0660 channel of ours left by an older server, which a new server
 * would refuse as "more permissive than asked for" — never anything of
 * another user's, and never anything live or unidentified: "stale" rests
 * on the kernel's record of who took the token down (judge.h), whatever
 * the mode let others do.
 */
#include <string.h>
#include <sys/ipc.h>

#include "conn.h"
#include "probe.h"
#include "safety.h"
#include "sysv.h"

/* Inspection accepts what any shmchan server has created (up to 0660). */
#define INSPECT_MAX_MODE 0660u

const char *shmchan_status_name(shmchan_status_t status)
{
    switch (status) {
    case SHMCHAN_STATUS_ABSENT:
        return "absent";
    case SHMCHAN_STATUS_LIVE:
        return "live";
    case SHMCHAN_STATUS_BUSY:
        return "busy";
    case SHMCHAN_STATUS_STALE:
        return "stale";
    case SHMCHAN_STATUS_FOREIGN:
        return "foreign";
    }
    return "unknown";
}

static shmchan_status_t status_of(shmchan_verdict_t v)
{
    switch (v) {
    case SHMCHAN_VERDICT_ABSENT:
        return SHMCHAN_STATUS_ABSENT;
    case SHMCHAN_VERDICT_LIVE:
        return SHMCHAN_STATUS_LIVE;
    case SHMCHAN_VERDICT_BUSY:
        return SHMCHAN_STATUS_BUSY;
    case SHMCHAN_VERDICT_STALE:
        return SHMCHAN_STATUS_STALE;
    case SHMCHAN_VERDICT_FOREIGN:
        return SHMCHAN_STATUS_FOREIGN;
    }
    return SHMCHAN_STATUS_FOREIGN;
}

static void fill_info(const shmchan_probe_facts_t *f, const shmchan_judgement_t *j,
                      shmchan_channel_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->key = f->key;
    info->shmid = f->shm_present ? f->shm.shmid : -1;
    info->semid = f->sem_present ? f->sem.semid : -1;
    if (f->shm_present && f->shm_errno == 0) {
        info->uid = f->shm.uid;
        info->cuid = f->shm.cuid;
        info->mode = f->shm.mode;
        info->size = f->shm.segsz;
        info->nattch = f->shm.nattch;
    } else if (f->sem_present && f->sem_errno == 0) {
        info->uid = f->sem.uid;
        info->cuid = f->sem.cuid;
        info->mode = f->sem.mode;
    }
    info->status = status_of(j->verdict);
    info->server_pid = f->sem_alive_pid;
    if (f->header_read && f->header_err == SHMCHAN_OK) {
        info->max_clients = f->header.layout.params.max_clients;
        info->max_payload = f->header.layout.params.max_payload;
        info->lane_capacity = f->header.layout.params.lane_capacity;
        info->clients = (uint32_t)f->header_clients;
    }
    (void)strncpy(info->reason, j->reason, sizeof info->reason - 1);
}

shmchan_err_t shmchan_inspect(key_t key, shmchan_channel_info_t *info, shmchan_diag_t *diag)
{
    ENSURE_REF(info);
    shmchan_probe_facts_t facts;
    GUARD(shmchan_probe_gather(key, INSPECT_MAX_MODE, &facts, diag));
    shmchan_judgement_t j;
    shmchan_probe_judge(&facts, &j);
    fill_info(&facts, &j, info);
    return SHMCHAN_OK;
}

struct list_ctx {
    shmchan_channel_info_t *infos;
    size_t cap;
    size_t count;
    int include_foreign;
};

static int list_key(struct list_ctx *ctx, key_t key)
{
    if (key == IPC_PRIVATE) {
        return 0; /* no key: not a channel anyone can connect to */
    }
    shmchan_channel_info_t info;
    if (shmchan_inspect(key, &info, NULL) != SHMCHAN_OK) {
        return 0;
    }
    if (info.status == SHMCHAN_STATUS_ABSENT ||
        (info.status == SHMCHAN_STATUS_FOREIGN && !ctx->include_foreign)) {
        return 0;
    }
    if (ctx->count < ctx->cap) {
        ctx->infos[ctx->count] = info;
    }
    ctx->count++;
    return 0;
}

static int list_segment(const shmchan_sys_shm_info_t *shm, void *arg)
{
    return list_key(arg, shm->key);
}

/* A stale channel may have lost its segment and kept its set: list sets
 * too, so that `clean --stale` without a key finds those as well. */
static int list_set(int semid, key_t key, void *arg)
{
    (void)semid;
    int shmid = -1;
    if (key != IPC_PRIVATE && shmchan_sys_shm_lookup(key, &shmid, NULL) == SHMCHAN_OK) {
        return 0; /* a segment at this key: listed by the segment pass */
    }
    return list_key(arg, key);
}

shmchan_err_t shmchan_list(shmchan_channel_info_t *infos, size_t cap, size_t *count,
                           int include_foreign, shmchan_diag_t *diag)
{
    ENSURE_REF(count);
    *count = 0;
    ENSURE(infos != NULL || cap == 0, SHMCHAN_E_INVALID_ARGUMENT);
    struct list_ctx ctx = {infos, cap, 0, include_foreign};
    GUARD(shmchan_sys_shm_enumerate(list_segment, &ctx, diag));
    GUARD(shmchan_sys_sem_enumerate(list_set, &ctx, diag));
    *count = ctx.count;
    return SHMCHAN_OK;
}

shmchan_err_t shmchan_remove_stale(key_t key, int dry_run, shmchan_channel_info_t *info,
                                   shmchan_diag_t *diag)
{
    ENSURE_REF(info);
    shmchan_probe_facts_t facts;
    GUARD(shmchan_probe_gather(key, INSPECT_MAX_MODE, &facts, diag));
    shmchan_judgement_t j;
    shmchan_probe_judge(&facts, &j);
    fill_info(&facts, &j, info);
    /* Dead connections first: a stale channel's reclaim would sweep those
     * given to us anyway, and a client's uid finds its own only here. Not
     * beside a single-user channel (live or stale): no connection at the
     * derived keys is of its making, and the sweep is 256 lookups; what an
     * earlier multi-user channel at this key left is found once the key
     * is free. */
    info->dead_connections =
        shmchan_probe_is_single_user(&facts) ? 0 : shmchan_conn_sweep_dead(key, dry_run);
    if (info->dead_connections > 0 && j.verdict != SHMCHAN_VERDICT_STALE) {
        return SHMCHAN_OK;
    }
    switch (j.verdict) {
    case SHMCHAN_VERDICT_STALE:
        if (dry_run) {
            return SHMCHAN_OK;
        }
        return shmchan_probe_reclaim(&facts, &j, diag);
    case SHMCHAN_VERDICT_ABSENT:
        shmchan_diag_set(diag, SHMCHAN_E_NOT_FOUND, 0, "%s", j.reason);
        return SHMCHAN_E_NOT_FOUND;
    case SHMCHAN_VERDICT_LIVE:
        shmchan_diag_set(diag, SHMCHAN_E_ALREADY_RUNNING, 0, "%s", j.reason);
        return SHMCHAN_E_ALREADY_RUNNING;
    case SHMCHAN_VERDICT_BUSY:
        shmchan_diag_set(diag, SHMCHAN_E_BUSY, 0, "%s", j.reason);
        return SHMCHAN_E_BUSY;
    case SHMCHAN_VERDICT_FOREIGN:
        shmchan_diag_set(diag, SHMCHAN_E_FOREIGN, 0, "%s", j.reason);
        return SHMCHAN_E_FOREIGN;
    }
    return SHMCHAN_E_SYSTEM;
}
