#define _GNU_SOURCE
#include "signal_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static int pipe_fds[2] = {-1, -1};
static int caught;

static void on_shutdown_signal(int number) {
    int saved = errno;
    unsigned char byte = (unsigned char)number;
    (void)!write(pipe_fds[1], &byte, 1);
    errno = saved;
}

// Runs before main, before any thread or runtime exists.
__attribute__((constructor)) static void catch_shutdown_signals(void) {
    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return;
    // Only the write end may never block (a signal handler must not); the reader waits.
    fcntl(pipe_fds[0], F_SETFL, 0);
    struct sigaction action = {0};
    action.sa_handler = on_shutdown_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    caught = sigaction(SIGTERM, &action, NULL) == 0 && sigaction(SIGINT, &action, NULL) == 0;
}

int aa_shutdown_signals_caught(void) { return caught; }

int aa_wait_shutdown_signal(void) {
    unsigned char byte = 0;
    ssize_t count;
    do {
        count = read(pipe_fds[0], &byte, 1);
    } while (count < 0 && errno == EINTR);
    return count == 1 ? byte : -1;
}
