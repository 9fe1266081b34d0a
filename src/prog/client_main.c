/*
 * client_main.c - the `client` program: the seeds' two clients on one
 * shmchan channel. Which one runs is the server's choice, told in its
 * hello (docs/programs.md):
 *
 *   'G' + text  greet: print "Data read from memory: TEXT", answer the read
 *               receipt "R", leave.
 *   'C'         chat: send each line of stdin as one message until "exit"
 *               or end of input.
 *
 * The chat loop never blocks for long: stdin is polled in 250 ms slices
 * and between slices the client asks the kernel whether the server still
 * lives (shmchan_client_check) and drains the server's lane (a goodbye), so
 * a server that dies while the user types nothing is noticed at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/prog/args.h"
#include "src/prog/io.h"
#include "src/prog/resolve.h"
#include "src/shmchan.h"

#define POLL_SLICE_MS 250
#define SEND_SLICE_MS 250
#define STDIN_CHUNK 4096
/* Messages the server is not expected to send after its hello, drained per
 * slice; more simply wait for the next slice. */
#define DRAIN_MAX 16

#define HELLO_GREET 'G'
#define HELLO_CHAT 'C'

static const uint8_t RECEIPT[1] = {'R'};

static void print_usage(FILE *out)
{
    (void)fprintf(
        out,
        "Usage: client [--key KEY] [--timeout MS] [--server-uid USER]\n"
        "       client --help | --version\n"
        "\n"
        "Connects to the shmchan server at KEY. A greet server's text is printed\n"
        "(\"Data read from memory: TEXT\") and the client leaves; with a chat server\n"
        "each line of standard input is sent as one message until the line \"exit\"\n"
        "or the end of input. A line is sent exactly as typed: only its '\\n' is\n"
        "removed (a '\\r' before it is kept), empty lines and spaces are sent; a line\n"
        "longer than the channel's maximum message size is refused and skipped.\n"
        "\n"
        "Options:\n"
        "  --key KEY     SysV key, decimal or 0x hex, 1..0xffffffff (default %d = 0x%08x)\n"
        "  --timeout MS  how long to wait for a server still starting and for its\n"
        "                hello, 0..86400000 ms (default %u)\n"
        "  --server-uid USER\n"
        "                the user the server must run as (a user name or a uid): a\n"
        "                channel owned or created by anyone else is refused\n"
        "                (default: the client's own uid)\n"
        "  -h, --help    this text\n"
        "  --version     the version\n"
        "\n"
        "Exit status:\n"
        "  0      done (\"exit\" sent, end of input, or greeting read)\n"
        "  1      runtime error (the object at KEY is not a channel we may trust,\n"
        "         e.g. not the --server-uid's; no free slot, no hello from the\n"
        "         server, kernel errors, the user database failing to answer)\n"
        "  2      bad arguments (a user the system does not know included)\n"
        "  3      no server at KEY, or the server went away during the session\n"
        "  128+N  stopped by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143) after\n"
        "         leaving the channel\n",
        SHMCHAN_PROG_DEFAULT_KEY, SHMCHAN_PROG_DEFAULT_KEY, SHMCHAN_PROG_DEFAULT_TIMEOUT_MS);
}

typedef struct client_ctx {
    key_t key;
    int timeout_ms;
    int has_server_uid; /* --server-uid given, else the library's default (euid) */
    uid_t server_uid;
    shmchan_client_t *cli;
    uint32_t max_payload;
    uint8_t *msg;  /* one message from the server, max_payload bytes */
    uint8_t *line; /* the line reader's storage, max_payload bytes */
    shmchan_prog_lines_t lines;
    int interactive;
} client_ctx_t;

/* Outcome of a step: keep going, or leave with this exit code. */
enum { KEEP_GOING = -1 };

static int signal_exit(void)
{
    const int sig = (int)shmchan_prog_caught_signal;
    shmchan_prog_say(stderr, "client: caught %s, leaving the channel\n",
                     shmchan_prog_signal_name(sig));
    return SHMCHAN_PROG_EXIT_SIGNAL_BASE + sig;
}

static const char *gone_reason(shmchan_err_t err)
{
    switch (err) {
    case SHMCHAN_E_CLOSED:
        return "the channel was closed (the server shut down, was killed or the objects were "
               "removed)";
    case SHMCHAN_E_PROTOCOL:
        return "the server dropped this client (protocol violation)";
    default:
        return shmchan_strerror(err);
    }
}

static int server_gone(const client_ctx_t *ctx, shmchan_err_t err)
{
    if (ctx->interactive) {
        shmchan_prog_say(stdout, "\n"); /* end the "> " prompt's line */
    }
    shmchan_prog_say(stderr, "client: server at key 0x%08x is gone: %s\n", (unsigned)ctx->key,
                     gone_reason(err));
    return SHMCHAN_PROG_EXIT_GONE;
}

/* Any error of a call on a connected client, as an exit code. */
static int call_failed(const client_ctx_t *ctx, const char *what, shmchan_err_t err)
{
    if (err == SHMCHAN_E_CLOSED || err == SHMCHAN_E_PROTOCOL) {
        return server_gone(ctx, err);
    }
    if (err == SHMCHAN_E_INTERRUPTED && shmchan_prog_caught_signal != 0) {
        return signal_exit();
    }
    shmchan_prog_say(stderr, "client: %s on the channel at key 0x%08x: %s\n", what,
                     (unsigned)ctx->key, shmchan_strerror(err));
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

static int connect_channel(client_ctx_t *ctx)
{
    shmchan_client_options_t opts;
    shmchan_client_options_init(&opts);
    opts.connect_timeout_ms = ctx->timeout_ms;
    if (ctx->has_server_uid) {
        opts.expected_uid = ctx->server_uid;
    }
    opts.cancel = &shmchan_prog_caught_signal;
    shmchan_diag_t diag;
    memset(&diag, 0, sizeof diag);
    const shmchan_err_t err = shmchan_client_connect(ctx->key, &opts, &ctx->cli, &diag);
    if (err == SHMCHAN_OK) {
        return KEEP_GOING;
    }
    if (err == SHMCHAN_E_INTERRUPTED && shmchan_prog_caught_signal != 0) {
        return signal_exit();
    }
    if (diag.text[0] == '\0') {
        (void)snprintf(diag.text, sizeof diag.text, "connecting to key 0x%08x", (unsigned)ctx->key);
    }
    shmchan_prog_say(stderr, "client: %s (%s)\n", diag.text, shmchan_strerror(err));
    /* No server, a dead one (stale channel) or one that never got ready. */
    if (err == SHMCHAN_E_NOT_FOUND || err == SHMCHAN_E_CLOSED || err == SHMCHAN_E_TIMEOUT) {
        return SHMCHAN_PROG_EXIT_GONE;
    }
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

static int alloc_buffers(client_ctx_t *ctx)
{
    ctx->max_payload = shmchan_client_max_payload(ctx->cli);
    ctx->msg = malloc(ctx->max_payload);
    ctx->line = malloc(ctx->max_payload);
    if (ctx->msg == NULL || ctx->line == NULL) {
        shmchan_prog_say(stderr, "client: out of memory for %u-byte message buffers\n",
                         ctx->max_payload);
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    shmchan_prog_lines_init(&ctx->lines, ctx->line, ctx->max_payload);
    return KEEP_GOING;
}

/* ------------------------------------------------------------- chat */

/* Reads what the server sent since the last look: normally nothing, a
 * goodbye when it shuts down. */
static int drain_server(const client_ctx_t *ctx)
{
    for (int i = 0; i < DRAIN_MAX; i++) {
        uint32_t len = 0;
        const shmchan_err_t err =
            shmchan_client_recv(ctx->cli, ctx->msg, ctx->max_payload, &len, 0);
        if (err == SHMCHAN_E_TIMEOUT || err == SHMCHAN_E_WOULD_BLOCK ||
            err == SHMCHAN_E_INTERRUPTED) {
            return KEEP_GOING;
        }
        if (err != SHMCHAN_OK) {
            return call_failed(ctx, "receiving", err);
        }
        shmchan_prog_say(stderr, "client: ignoring an unexpected %u-byte message from the server\n",
                         len);
    }
    return KEEP_GOING;
}

/* Between input slices: is the server still there? */
static int watch_server(const client_ctx_t *ctx)
{
    const shmchan_err_t err = shmchan_client_check(ctx->cli);
    if (err != SHMCHAN_OK) {
        return call_failed(ctx, "checking the server", err);
    }
    return drain_server(ctx);
}

static int send_line(const client_ctx_t *ctx, const uint8_t *data, size_t len)
{
    /* Look first: a message sent into the lane of a server that was
     * killed a moment ago would be lost without a word. */
    int rc = watch_server(ctx);
    if (rc != KEEP_GOING) {
        return rc;
    }
    for (;;) {
        if (shmchan_prog_caught_signal != 0) {
            return signal_exit();
        }
        /* len <= max_payload: the line reader holds no more. */
        const shmchan_err_t err = shmchan_client_send(ctx->cli, data, (uint32_t)len, SEND_SLICE_MS);
        if (err == SHMCHAN_OK) {
            return KEEP_GOING;
        }
        if (err != SHMCHAN_E_TIMEOUT && err != SHMCHAN_E_INTERRUPTED) {
            return call_failed(ctx, "sending", err);
        }
        /* Lane full: the server is alive (send checks) but behind. */
        rc = drain_server(ctx);
        if (rc != KEEP_GOING) {
            return rc;
        }
    }
}

static void prompt(const client_ctx_t *ctx)
{
    if (ctx->interactive) {
        shmchan_prog_say(stdout, "> ");
    }
}

static int on_line(const client_ctx_t *ctx, const shmchan_prog_line_t *line)
{
    if (line->kind == SHMCHAN_PROG_LINE_OVERLONG) {
        shmchan_prog_say(stderr,
                         "client: line of %llu bytes exceeds the channel's maximum of %u bytes; "
                         "not sent\n",
                         (unsigned long long)line->total, ctx->max_payload);
        prompt(ctx);
        return KEEP_GOING;
    }
    const int rc = send_line(ctx, line->data, line->len);
    if (rc != KEEP_GOING) {
        return rc;
    }
    if (line->len == 4 && memcmp(line->data, "exit", 4) == 0) {
        shmchan_prog_say(stdout, "Client exiting...\n");
        return SHMCHAN_PROG_EXIT_OK;
    }
    prompt(ctx);
    return KEEP_GOING;
}

static int on_input(client_ctx_t *ctx, const uint8_t *in, size_t n)
{
    while (n > 0) {
        shmchan_prog_line_t line;
        const size_t used = shmchan_prog_lines_feed(&ctx->lines, in, n, &line);
        in += used;
        n -= used;
        if (line.kind != SHMCHAN_PROG_LINE_NONE) {
            const int rc = on_line(ctx, &line);
            if (rc != KEEP_GOING) {
                return rc;
            }
        }
    }
    return KEEP_GOING;
}

static int on_end_of_input(client_ctx_t *ctx)
{
    shmchan_prog_line_t line;
    shmchan_prog_lines_finish(&ctx->lines, &line);
    if (line.kind != SHMCHAN_PROG_LINE_NONE) {
        const int rc = on_line(ctx, &line);
        if (rc != KEEP_GOING) {
            return rc;
        }
    }
    if (ctx->interactive) {
        shmchan_prog_say(stdout, "\n");
    }
    return SHMCHAN_PROG_EXIT_OK;
}

/* One poll slice of stdin. */
static int read_some(client_ctx_t *ctx)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, POLL_SLICE_MS);
    if (ready < 0) {
        if (errno == EINTR) {
            return KEEP_GOING;
        }
        shmchan_prog_say(stderr, "client: poll(stdin): %s\n", strerror(errno));
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (ready == 0) {
        return KEEP_GOING;
    }
    uint8_t chunk[STDIN_CHUNK];
    const ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
    if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return KEEP_GOING;
        }
        shmchan_prog_say(stderr, "client: read(stdin): %s\n", strerror(errno));
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (got == 0) {
        return on_end_of_input(ctx);
    }
    return on_input(ctx, chunk, (size_t)got);
}

static int chat(client_ctx_t *ctx)
{
    shmchan_prog_say(stdout,
                     "Client: Connected to shared memory. Type your messages (type 'exit' to "
                     "quit):\n");
    ctx->interactive = isatty(STDIN_FILENO);
    prompt(ctx);
    for (;;) {
        if (shmchan_prog_caught_signal != 0) {
            return signal_exit();
        }
        int rc = read_some(ctx);
        if (rc != KEEP_GOING) {
            return rc;
        }
        rc = watch_server(ctx);
        if (rc != KEEP_GOING) {
            return rc;
        }
    }
}

/* ------------------------------------------------------------ greet */

static int greet(const client_ctx_t *ctx, uint32_t len)
{
    shmchan_prog_say_bytes(stdout, "Data read from memory: ", ctx->msg + 1, len - 1);
    const shmchan_err_t err =
        shmchan_client_send(ctx->cli, RECEIPT, (uint32_t)sizeof RECEIPT, ctx->timeout_ms);
    if (err != SHMCHAN_OK) {
        return call_failed(ctx, "sending the read receipt", err);
    }
    return SHMCHAN_PROG_EXIT_OK;
}

/* Waits for the server's hello and runs the mode it names. */
static int converse(client_ctx_t *ctx)
{
    uint32_t len = 0;
    const shmchan_err_t err =
        shmchan_client_recv(ctx->cli, ctx->msg, ctx->max_payload, &len, ctx->timeout_ms);
    if (err == SHMCHAN_E_TIMEOUT) {
        shmchan_prog_say(stderr, "client: the server at key 0x%08x sent no hello within %d ms\n",
                         (unsigned)ctx->key, ctx->timeout_ms);
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    if (err != SHMCHAN_OK) {
        return call_failed(ctx, "waiting for the hello", err);
    }
    if (len >= 1 && ctx->msg[0] == (uint8_t)HELLO_GREET) {
        return greet(ctx, len);
    }
    if (len == 1 && ctx->msg[0] == (uint8_t)HELLO_CHAT) {
        return chat(ctx);
    }
    shmchan_prog_say(stderr,
                     "client: the server at key 0x%08x sent an unknown %u-byte hello; is it a "
                     "shmchan server program?\n",
                     (unsigned)ctx->key, len);
    return SHMCHAN_PROG_EXIT_RUNTIME;
}

/* server_uid: the resolved --server-uid, NULL if not given. */
static int run(const shmchan_prog_client_args_t *a, const uid_t *server_uid)
{
    client_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.key = a->key;
    ctx.timeout_ms = (int)a->timeout_ms;
    if (server_uid != NULL) {
        ctx.has_server_uid = 1;
        ctx.server_uid = *server_uid;
    }
    int rc = connect_channel(&ctx);
    if (rc == KEEP_GOING) {
        rc = alloc_buffers(&ctx);
    }
    if (rc == KEEP_GOING) {
        rc = converse(&ctx);
    }
    /* Goodbye (if the lane has room) and release the slot; the kernel
     * would release it anyway (SEM_UNDO), but the server then reports a
     * clean leave rather than a vanished client. */
    shmchan_client_disconnect(ctx.cli);
    free(ctx.msg);
    free(ctx.line);
    return rc;
}

int main(int argc, char **argv)
{
    shmchan_prog_client_args_t args;
    char err[256];
    switch (
        shmchan_prog_parse_client_args(argc, (const char *const *)argv, &args, err, sizeof err)) {
    case SHMCHAN_PROG_ARGS_HELP:
        print_usage(stdout);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_VERSION:
        (void)printf("client (shmchan) %s\n", SHMCHAN_PROG_VERSION);
        return SHMCHAN_PROG_EXIT_OK;
    case SHMCHAN_PROG_ARGS_ERROR:
        (void)fprintf(stderr, "client: %s\n", err);
        print_usage(stderr);
        return SHMCHAN_PROG_EXIT_USAGE;
    case SHMCHAN_PROG_ARGS_RUN:
        break;
    }
    /* Looked up before the signal handlers (a lookup that hangs on a
     * directory service is then simply killed by ^C: nothing to clean up
     * yet) and before any IPC. */
    uid_t server_uid = 0;
    if (args.server_uid != NULL) {
        const int rc = shmchan_prog_resolve_uid("client", "--server-uid", args.server_uid,
                                                &server_uid);
        if (rc == SHMCHAN_PROG_EXIT_USAGE) {
            print_usage(stderr);
        }
        if (rc != SHMCHAN_PROG_EXIT_OK) {
            return rc;
        }
    }
    if (shmchan_prog_setup() != 0) {
        perror("client: installing signal handlers");
        return SHMCHAN_PROG_EXIT_RUNTIME;
    }
    return run(&args, args.server_uid != NULL ? &server_uid : NULL);
}
