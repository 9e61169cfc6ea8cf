#include "allocator_shims.h"

// Any libc header defines __GLIBC__ when the C library is glibc.
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void aa_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
