/*
 * io.c - signal flags and flushed output for the programs (see io.h).
 */
#include "src/prog/io.h"

#include "src/prog/escape.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

volatile sig_atomic_t shmchan_prog_caught_signal = 0;

static void on_signal(int sig)
{
    shmchan_prog_caught_signal = (sig_atomic_t)sig;
}

int shmchan_prog_setup(void)
{
    /* Explicit line buffering: stdio would fully buffer a pipe or file,
     * and a script waiting for "Waiting for client..." would wait forever.
     * shmchan_prog_say flushes as well, for lines written with fwrite. */
    (void)setvbuf(stdout, NULL, _IOLBF, 0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void)sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read/poll/semop must return */
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (sigaction(sigs[i], &sa, NULL) != 0) {
            return -1;
        }
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    (void)sigemptyset(&ign.sa_mask);
    return sigaction(SIGPIPE, &ign, NULL);
}

const char *shmchan_prog_signal_name(int sig)
{
    static char other[32];
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        (void)snprintf(other, sizeof other, "signal %d", sig);
        return other;
    }
}

void shmchan_prog_say(FILE *stream, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(stream, fmt, ap);
    va_end(ap);
    (void)fflush(stream);
}

void shmchan_prog_say_bytes(FILE *stream, const char *prefix, const void *data, size_t len)
{
    const uint8_t *p = data;
    char chunk[1024];
    (void)fputs(prefix, stream);
    /* Each round consumes at least one byte (the chunk holds far more than
     * one escaped unit), so this ends after at most len rounds. */
    while (len > 0) {
        size_t used = 0;
        const size_t n = shmchan_escape_terminal(p, len, chunk, sizeof chunk, &used);
        if (used == 0) {
            break;
        }
        (void)fwrite(chunk, 1, n, stream);
        p += used;
        len -= used;
    }
    (void)fputc('\n', stream);
    (void)fflush(stream);
}
