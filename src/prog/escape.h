/*
 * escape.h - peer bytes made safe for a terminal (pure; docs/programs.md,
 * "What the programs print").
 *
 * A message from a peer is shown on one line, and no byte of it can act on
 * the terminal: C0 controls (0x00-0x1f), DEL (0x7f), C1 controls raw
 * (0x80-0x9f) or UTF-8 encoded (U+0080-U+009F, bytes c2 80 .. c2 9f) and
 * every byte that is not part of a well-formed UTF-8 sequence are written
 * as \xHH (two lower-case hex digits). A backslash is written as \\, so
 * that the escaped form is unambiguous: "\x1b" on the screen is always an
 * ESC the peer sent, never the four characters it typed. Everything else
 * (printable ASCII and well-formed UTF-8 of other code points) is copied
 * unchanged.
 */
#ifndef SHMCHAN_PROG_ESCAPE_H
#define SHMCHAN_PROG_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes one unit of input (a byte, or a UTF-8 sequence) becomes. */
#define SHMCHAN_ESCAPE_MAX_UNIT 4u

/* Escapes whole units of in[0, len) into out[0, cap) while they fit,
 * NUL-terminated. Returns the output length (without the NUL) and sets
 * *consumed to the input bytes used, which is len once everything fit and
 * at least 1 whenever len > 0 and cap > SHMCHAN_ESCAPE_MAX_UNIT: a caller
 * with a small buffer loops, and a UTF-8 sequence is never split between
 * two calls. Returns 0 with *consumed 0 for NULL arguments. */
size_t shmchan_escape_terminal(const uint8_t *in, size_t len, char *out, size_t cap,
                               size_t *consumed);

#endif /* SHMCHAN_PROG_ESCAPE_H */
