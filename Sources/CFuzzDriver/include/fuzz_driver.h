#ifndef AA_FUZZ_DRIVER_H
#define AA_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver for programs with their own main (LLVM 11 and later);
/// linked only into the fuzzing build (-sanitize=fuzzer).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
