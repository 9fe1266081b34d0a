/*
 * args.h - argument parsing shared by the programs (server, client,
 * shmchanctl). Pure: strict parsers that accept exactly one spelling of a
 * value and reject everything else (sign, spaces, trailing junk, overflow).
 *
 * Everything here is a pure function of its arguments (no system calls, no
 * globals, no allocation), so it can be unit-tested and fuzzed on its own:
 * the programs do the printing and the IPC.
 */
#ifndef SHMCHAN_PROG_ARGS_H
#define SHMCHAN_PROG_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHMCHAN_PROG_VERSION "0.1.0"

/* The seeds' key: 1234 (0x000004d2). */
#define SHMCHAN_PROG_DEFAULT_KEY 1234

/* Exit codes, the same for the three programs (docs/programs.md). */
#define SHMCHAN_PROG_EXIT_OK 0
#define SHMCHAN_PROG_EXIT_RUNTIME 1       /* the library or the system refused */
#define SHMCHAN_PROG_EXIT_USAGE 2         /* bad arguments */
#define SHMCHAN_PROG_EXIT_GONE 3          /* client: no server at the key, or it went away */
#define SHMCHAN_PROG_EXIT_SIGNAL_BASE 128 /* + N: stopped by signal N, cleaned up */

/* A SysV key: decimal ("1234") or hex with 0x/0X ("0x4d2"), in
 * 1 .. 0xFFFFFFFF. 0 is IPC_PRIVATE, which nobody else could find, so it
 * is refused. Decimal has no leading zero (it would read as octal to a
 * human); hex may have leading zeros, so that the "0x%08x" form every
 * program prints can be pasted back. Returns 0 and sets *out, or -1 (out
 * untouched). */
int shmchan_prog_parse_key(const char *text, key_t *out);

/* An unsigned decimal in [min, max], no leading zero. Returns 0 or -1. */
int shmchan_prog_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);

/* A channel mode: exactly "0600", the one mode the library creates with.
 * Returns 0 and sets *out; -2 for a group mode ("0620", "0640", "0660":
 * accepted once, refused now, docs/threat-model.md "Group modes"); -1 for
 * anything else. */
int shmchan_prog_parse_mode(const char *text, unsigned *out);

/* ------------------------------------------------------ command lines */

/* What a command line asks for. On ARGS_ERROR the parser has written one
 * line (no newline) describing the problem into the caller's buffer. */
typedef enum shmchan_prog_args_result {
    SHMCHAN_PROG_ARGS_RUN = 0,
    SHMCHAN_PROG_ARGS_HELP,
    SHMCHAN_PROG_ARGS_VERSION,
    SHMCHAN_PROG_ARGS_ERROR
} shmchan_prog_args_result_t;

#define SHMCHAN_PROG_DEFAULT_GREETING "Hello from the other side!"

/* The most distinct texts --allow-uid, and --allow-group, may each be given
 * with: far more than a hand-written command line needs, and a fixed bound
 * so that the lists live in the argument struct (no allocation). */
#define SHMCHAN_PROG_MAX_ALLOW 64

/* server. Channel parameters left at 0 mean "the library's default". */
typedef struct shmchan_prog_server_args {
    key_t key;
    int greet;              /* --greet given: greet mode, else chat mode */
    const char *greet_text; /* points into argv, or the default greeting */
    uint32_t max_clients;   /* --max-clients, 0 if not given */
    uint32_t max_payload;   /* --max-payload, 0 if not given */
    uint32_t lane_capacity; /* --lane-capacity, 0 if not given */
    unsigned mode;          /* --mode, 0 if not given */
    int verbose;            /* --verbose: log connects and disconnects on stderr */
    /* --allow-uid USER and --allow-group GROUP as typed (names or numbers,
     * never empty), pointers into argv, in the order given, each distinct
     * text once. They are not resolved here: turning a name into an id is
     * a lookup in the system's databases (NSS: files, LDAP, ...), which is
     * neither pure nor always fast, so the program does it
     * (src/account.h) after parsing. */
    const char *allow_uids[SHMCHAN_PROG_MAX_ALLOW];
    size_t allow_uids_count;
    const char *allow_groups[SHMCHAN_PROG_MAX_ALLOW];
    size_t allow_groups_count;
} shmchan_prog_server_args_t;

/* client. */
#define SHMCHAN_PROG_DEFAULT_TIMEOUT_MS 3000u
#define SHMCHAN_PROG_MAX_TIMEOUT_MS 86400000u /* a day: far beyond any use, < INT_MAX */
typedef struct shmchan_prog_client_args {
    key_t key;
    uint32_t timeout_ms;
    /* --server-uid USER as typed (a name or a number, never empty; a
     * pointer into argv), NULL if not given: the client's own euid. The
     * program resolves it, as the server's allow lists. */
    const char *server_uid;
} shmchan_prog_client_args_t;

/* shmchanctl. */
typedef enum shmchan_prog_ctl_command {
    SHMCHAN_PROG_CTL_NONE = 0,
    SHMCHAN_PROG_CTL_LIST,
    SHMCHAN_PROG_CTL_INSPECT,
    SHMCHAN_PROG_CTL_CLEAN
} shmchan_prog_ctl_command_t;

typedef struct shmchan_prog_ctl_args {
    shmchan_prog_ctl_command_t command;
    int all;     /* list --all */
    int has_key; /* --key given */
    key_t key;
    int stale;   /* clean --stale (required: the only kind of cleaning) */
    int dry_run; /* clean --dry-run */
} shmchan_prog_ctl_args_t;

/* Each parses argv[1 .. argc-1] (argv[0] is the program name and is not
 * read). Options are long options, "--name VALUE" or "--name=VALUE";
 * "-h" is "--help". The first --help or --version wins over anything that
 * follows, as in GNU programs; an error before it is still an error. A
 * repeated option is an error (which of two keys was meant?), except the
 * server's --allow-uid and --allow-group, which add to a list: repeating a
 * text is harmless (kept once), more than SHMCHAN_PROG_MAX_ALLOW distinct
 * texts of one of them is an error. */
shmchan_prog_args_result_t shmchan_prog_parse_server_args(int argc, const char *const *argv,
                                                          shmchan_prog_server_args_t *out,
                                                          char *err, size_t err_len);
shmchan_prog_args_result_t shmchan_prog_parse_client_args(int argc, const char *const *argv,
                                                          shmchan_prog_client_args_t *out,
                                                          char *err, size_t err_len);
shmchan_prog_args_result_t shmchan_prog_parse_ctl_args(int argc, const char *const *argv,
                                                       shmchan_prog_ctl_args_t *out, char *err,
                                                       size_t err_len);

/* --------------------------------------------------------- line reader */

/* Splits a byte stream into lines of at most `max` bytes without ever
 * holding more than `max` bytes: the caller gives the storage (max bytes)
 * and feeds whatever read(2) returned. A line is the bytes before a '\n'
 * (the '\n' is dropped, everything else, '\r' and NUL included, is kept).
 * A line longer than max is reported once, as OVERLONG with its full
 * length, when its '\n' (or the end of input) arrives; its bytes are
 * discarded as they come. */
typedef struct shmchan_prog_lines {
    uint8_t *buf;   /* caller's storage, cap bytes */
    size_t cap;     /* the longest line accepted */
    size_t len;     /* bytes of the current line held in buf */
    uint64_t total; /* bytes of the current line seen, held or discarded */
    int overlong;   /* the current line is longer than cap: discarding */
} shmchan_prog_lines_t;

typedef enum shmchan_prog_line_kind {
    SHMCHAN_PROG_LINE_NONE = 0, /* need more input */
    SHMCHAN_PROG_LINE_OK,       /* data[0, len) is a line */
    SHMCHAN_PROG_LINE_OVERLONG  /* a line of `total` bytes was discarded */
} shmchan_prog_line_kind_t;

typedef struct shmchan_prog_line {
    shmchan_prog_line_kind_t kind;
    const uint8_t *data; /* OK: the line (valid until the next feed/finish) */
    size_t len;          /* OK: its length */
    uint64_t total;      /* OVERLONG: the line's length */
} shmchan_prog_line_t;

void shmchan_prog_lines_init(shmchan_prog_lines_t *lines, uint8_t *buf, size_t cap);

/* Consumes input from in[0, n) up to and including the first '\n', or all
 * of it if there is none; returns how many bytes it consumed and sets *out
 * (NONE when the input ran out before a line ended). Call again with the
 * rest until it is consumed. */
size_t shmchan_prog_lines_feed(shmchan_prog_lines_t *lines, const uint8_t *in, size_t n,
                               shmchan_prog_line_t *out);

/* End of input: a last line without '\n' is delivered as a line (OK or
 * OVERLONG); NONE if nothing was pending. Resets the reader. */
void shmchan_prog_lines_finish(shmchan_prog_lines_t *lines, shmchan_prog_line_t *out);

#endif /* SHMCHAN_PROG_ARGS_H */
