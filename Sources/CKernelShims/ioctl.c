#include <sys/ioctl.h>
#include "CKernelShims.h"

int aa_ioctl_pointer(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}
