#ifndef AA_ALLOCATOR_SHIMS_H
#define AA_ALLOCATOR_SHIMS_H

/// Returns the C allocator's free pages to the system (glibc's malloc_trim);
/// does nothing with other C libraries.
void aa_release_free_memory(void);

#endif
