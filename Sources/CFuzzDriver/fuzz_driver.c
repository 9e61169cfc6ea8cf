// Only a header: LLVMFuzzerRunDriver comes from libFuzzer in the fuzzing build.
#include "fuzz_driver.h"
