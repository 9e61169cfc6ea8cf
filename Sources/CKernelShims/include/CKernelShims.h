// ioctl(2) is variadic, which Swift cannot call: this gives it a fixed signature.
#ifndef CKERNELSHIMS_H
#define CKERNELSHIMS_H
int aa_ioctl_pointer(int fd, unsigned long request, void *argument);
#endif
