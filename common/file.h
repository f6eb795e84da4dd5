/* Reading a whole small file with a size bound. */
#ifndef ZOS_COMMON_FILE_H
#define ZOS_COMMON_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the file at path, at most max bytes, into a new heap buffer with a
 * NUL after the data (not counted in *len). The caller frees *out (wipe it
 * first when it may hold secrets). Reads up to one byte past max, so a file
 * that grows while it is read is still refused: ZE_TOOBIG past max, -errno
 * when it cannot be opened or read. Nothing is allocated on failure.
 */
int zfile_read(const char *path, size_t max, uint8_t **out, size_t *len);

#endif
