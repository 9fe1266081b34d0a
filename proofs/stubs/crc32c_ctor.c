/*
 * crc32c_ctor.c - src/crc32c.c as analysed, plus one entry point for its
 * load-time constructor.
 *
 * EVA never runs __attribute__((constructor)) functions, and this one is
 * static: the only faithful way to run it is to compile crc32c.c itself in
 * this translation unit (unchanged, by #include) and call it from a hook
 * that every driver calls first, as the loader would.
 */
#include "crc32c.c"

void fc_crc32c_run_constructors(void);

void fc_crc32c_run_constructors(void)
{
    crc32c_init_shift_tables();
}
