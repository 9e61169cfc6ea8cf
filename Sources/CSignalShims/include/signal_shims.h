#ifndef AA_SIGNAL_SHIMS_H
#define AA_SIGNAL_SHIMS_H

/// SIGTERM and SIGINT are caught from before `main` (a constructor in this
/// library) by a handler that writes the signal's number to a pipe, so one
/// that arrives at any moment, during launch-time binding included, is kept
/// until it is collected; no thread's signal mask matters.
/// Returns 1 when the handler is installed.
int aa_shutdown_signals_caught(void);

/// Waits for SIGTERM or SIGINT and returns its number (-1 on failure).
int aa_wait_shutdown_signal(void);

#endif
